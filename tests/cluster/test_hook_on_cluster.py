"""The webhook receiver as a pod on the development cluster, from examples/cluster/hook.yaml:
its own ServiceAccount and read-only Role, Pod Security `restricted`, reached by GitHub at
`https://hooks.<domain>/` through the router. A commit pushed to a real repository, then a
delivery signed as GitHub signs it, then the open tab shows the commit: no workflow involved.
"""

from __future__ import annotations

import time

import pytest
import yaml

from devcluster.cluster import EXAMPLES, apply, object_path
from tests.cluster.conftest import NAMESPACE
from tests.cluster.test_edge import APP
from tests.fixtures.edge import router_client, wait_for_route
from tests.fixtures.webhooks import delivery, push_payload

pytestmark = [pytest.mark.cluster, pytest.mark.browser]
SECRET = b"cluster-webhook-secret"


@pytest.fixture
def receiver(kube, edge):  # type: ignore[no-untyped-def]
    text = (
        (EXAMPLES / "hook.yaml").read_text().replace("previews.example.com", edge["PREVIEW_DOMAIN"])
    )
    documents = [d for d in yaml.safe_load_all(text) if d]
    for document in documents:
        if document["kind"] == "Deployment":
            document["spec"]["template"]["spec"]["containers"][0]["image"] = kube.image
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "streamlit-preview-hook", "namespace": NAMESPACE},
              "stringData": {"webhook-secret": SECRET.decode()}}  # fmt: skip
    try:
        with kube.client() as admin:
            apply(admin, [secret, *documents])
            _wait_available(admin)
        yield f"https://hooks.{edge['PREVIEW_DOMAIN']}/"
    finally:
        with kube.client() as admin:
            for document in reversed([secret, *documents]):
                admin.delete(object_path(document))


def _wait_available(admin) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    status: dict = {}
    while time.monotonic() < deadline:
        status = admin.get(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/streamlit-preview-hook"
        ).json()["status"]
        if status.get("availableReplicas"):
            return
        time.sleep(1)
    pods = admin.get(f"/api/v1/namespaces/{NAMESPACE}/pods",
                     params={"labelSelector": "app.kubernetes.io/name=streamlit-preview-hook"}).json()["items"]  # fmt: skip
    logs = [
        admin.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{p['metadata']['name']}/log").text
        for p in pods
    ]
    pytest.fail(f"the receiver never became ready: {status}\n{logs}")


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
