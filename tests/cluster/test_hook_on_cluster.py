"""The webhook receiver as a pod on the development cluster, installed by the chart
(`receiver.enabled`, in its own release): its ServiceAccount with rights in its previews'
namespace only, Pod Security `restricted`, reached by GitHub at `https://hooks.<domain>/`
through the router. A commit pushed to a real repository, then a delivery signed as GitHub
signs it, then the open tab shows the commit: no workflow involved.
"""

from __future__ import annotations

import pytest

from devcluster import binaries
from devcluster.chart import RECEIVER_RELEASE, receiver_release
from streamlit_preview.backends.kubernetes import KubernetesBackend
from tests.cluster.conftest import previews_of
from tests.cluster.test_edge import APP
from tests.fixtures.edge import router_client, wait_for_route
from tests.fixtures.webhooks import delivery, push_payload

pytestmark = [pytest.mark.cluster, pytest.mark.browser]
SECRET = b"cluster-webhook-secret"
_, _, PREVIEWS = RECEIVER_RELEASE


@pytest.fixture
def receiver(kube, edge):  # type: ignore[no-untyped-def]
    """A second release of the chart: the repository acme/shop's namespace and a receiver pod."""
    if not binaries.path_of("helm").exists():
        pytest.skip("helm is not built (scripts/cluster build)")
    with receiver_release(kube.admin_kubeconfig, image=kube.image, domain=edge["PREVIEW_DOMAIN"],
                          secret=SECRET, repository="acme/shop") as hooks:  # fmt: skip
        yield hooks


@pytest.fixture
def previews(node_git, kube, edge):  # type: ignore[no-untyped-def]
    """(backend, open_preview) in the release's namespace for acme/shop."""
    backend = KubernetesBackend.connect(kubeconfig=kube.admin_kubeconfig, namespace=PREVIEWS)
    with previews_of(backend, repo_url=node_git.url("remote.git"), edge=edge, image=kube.image,
                     namespace=PREVIEWS) as open_preview:  # fmt: skip
        yield backend, open_preview


def test_a_push_reaches_the_tab_through_the_receiver_pod(
    receiver, remote, previews, reviewer_browser, edge
):
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    _, open_preview = previews
    settings, opened = open_preview(41, router="ingress", access="public")
    with router_client(edge) as client:
        assert wait_for_route(client, opened.url).status_code == 200
        page = reviewer_browser.new_page()
        page.goto(opened.url)
        page.get_by_text("version 1").wait_for(timeout=30_000)

        new = remote.commit({"streamlit_app.py": APP.format(n=2)})
        payload = push_payload(full_name="acme/shop", clone_url="https://github.com/acme/shop.git",
                               branch="main", after=new)  # fmt: skip
        body, headers = delivery(SECRET, "push", payload)
        answer = client.post(receiver, content=body, headers=headers)

        assert answer.status_code == 202, answer.text
        assert answer.json() == [
            {"environment": settings.environment, "status": "started", "commit": new}
        ]
        page.get_by_text("version 2").wait_for(timeout=10_000)

        forged = client.post(
            receiver, content=body, headers=headers | {"X-Hub-Signature-256": "sha256=0"}
        )
        assert forged.status_code == 401
        assert client.get(receiver + "healthz").status_code == 404  # only POST / is routed
