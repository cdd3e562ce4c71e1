"""The webhook receiver as a pod on the development cluster, installed by the chart
(`receiver.enabled`, in its own release): its ServiceAccount with rights in its previews'
namespace only, Pod Security `restricted`, reached by GitHub at `https://hooks.<domain>/`
through the router. A commit pushed to a real repository, then a delivery signed as GitHub
signs it, then the open tab shows the commit: no workflow involved.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from devcluster import binaries
from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from tests.cluster.test_edge import APP
from tests.fixtures.edge import router_client, wait_for_route
from tests.fixtures.processes import ROOT
from tests.fixtures.webhooks import delivery, push_payload

pytestmark = [pytest.mark.cluster, pytest.mark.browser]
SECRET = b"cluster-webhook-secret"
RELEASE, SYSTEM, PREVIEWS = "hook-test", "hook-test-system", "hook-test-previews"


@pytest.fixture
def receiver(kube, edge, tmp_path):  # type: ignore[no-untyped-def]
    """A second release of the chart: the repository acme/shop's namespace and a receiver pod."""
    program = binaries.path_of("helm")
    if not program.exists():
        pytest.skip("helm is not built (scripts/cluster build)")
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kube.admin_kubeconfig))
    repository, _, tag = kube.image.rpartition(":")
    values = {"domain": edge["PREVIEW_DOMAIN"], "router": "ingress",
              "image": {"repository": repository, "tag": tag},
              "repositories": [{"name": "acme/shop", "namespace": PREVIEWS}],
              "signIn": {"enabled": False}, "cleanup": {"enabled": False},
              "networkPolicies": {"routerNamespace": "kube-system"}}  # fmt: skip
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    env = {
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def helm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(program), *args], env=env, capture_output=True, text=True, timeout=300
        )

    with kube.client() as admin:
        admin.post("/api/v1/namespaces", json={"metadata": {"name": SYSTEM}})
        admin.post(f"/api/v1/namespaces/{SYSTEM}/secrets", json={
            "metadata": {"name": "streamlit-preview-hook"}, "stringData": {"webhook-secret": SECRET.decode()}})  # fmt: skip
    installed = helm("install", RELEASE, str(ROOT / "charts" / "streamlit-preview"), "-n", SYSTEM,
                     "-f", str(tmp_path / "values.yaml"), "--wait", "--timeout", "3m")  # fmt: skip
    try:
        if installed.returncode != 0:
            with kube.client() as admin:
                pods = admin.get(f"/api/v1/namespaces/{SYSTEM}/pods").json()["items"]
                logs = [
                    admin.get(f"/api/v1/namespaces/{SYSTEM}/pods/{p['metadata']['name']}/log").text
                    for p in pods
                ]
            pytest.fail(f"helm install: {installed.stderr}\n{logs}")
        yield f"https://hooks.{edge['PREVIEW_DOMAIN']}/"
    finally:
        helm("uninstall", RELEASE, "-n", SYSTEM, "--wait")
        with kube.client() as admin:
            admin.delete(f"/api/v1/namespaces/{SYSTEM}")


@pytest.fixture
def previews(node_git, kube, edge):  # type: ignore[no-untyped-def]
    """(backend, open_preview) in the release's namespace for acme/shop."""
    backend = KubernetesBackend.connect(kubeconfig=kube.admin_kubeconfig, namespace=PREVIEWS)
    opened = []

    def open_preview(pr: int, **inputs: str):  # type: ignore[no-untyped-def]
        target = make_target(repository="acme/shop", repo_url=node_git.url("remote.git"),
                             branch="main", pr=pr, sha=None)  # fmt: skip
        settings = build_settings({"domain": edge["PREVIEW_DOMAIN"], "image": kube.image, "namespace": PREVIEWS,
                                   "wait-timeout": "3m"} | inputs, target)  # fmt: skip
        opened.append(settings)
        return settings, lifecycle.open_environment(backend, settings, lambda _: None)

    yield backend, open_preview
    for settings in opened:
        lifecycle.close_environment(backend, settings, lambda _: None)


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
