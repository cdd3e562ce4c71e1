"""The chart's NetworkPolicies, enforced by a real engine (kube-router's firewall,
devcluster/netpolicy.py) on the development cluster: a preview reaches neither another
preview, nor the platform, nor the metadata address; the router and the workflow's sync still
reach it.

Each check runs a TCP connect inside the preview pod's own network namespace (the node agent
names it after the pod's address), where the app's connections start, and the same target is
shown to answer from the node, so a refusal is the policy and not a target that is down.

Not here, and why: DNS (the development cluster runs no cluster DNS; the policies allow
kube-dns, which the API server validated), and IPv6 (the pods have no IPv6 address here; the
chart's policies name the IPv6 ranges as well).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from devcluster.cluster import RECEIVER_PORT
from devcluster.container import NODE_IP
from devcluster.controlplane import API_PORT
from devcluster.signin import PORT as SIGN_IN_PORT
from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from tests.cluster.conftest import previews_of
from tests.cluster.test_edge import APP
from tests.fixtures.edge import router_client, wait_for_route

pytestmark = pytest.mark.cluster
METADATA = "169.254.169.254"
CONNECT = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=2).close()
    print("open")
except OSError as exc:
    print("blocked", exc)
"""


def connect_from(namespace: str | None, host: str, port: int) -> str:
    """`open` or `blocked ...`: a TCP connect from the pod's network namespace (or the node)."""
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    return subprocess.run([*prefix, sys.executable, "-c", CONNECT, host, str(port)],
                          capture_output=True, text=True, timeout=30).stdout.strip()  # fmt: skip


@pytest.fixture
def metadata_server():  # type: ignore[no-untyped-def]
    """Something at the cloud metadata address, on the node, as clouds have it."""
    subprocess.run(["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"], check=True)
    try:

        class Answer(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"iam credentials")

            def log_message(self, *args: object) -> None:
                pass

        server = HTTPServer((METADATA, 80), Answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield METADATA
        server.shutdown()
        server.server_close()
    finally:
        subprocess.run(["ip", "addr", "del", f"{METADATA}/32", "dev", "lo"], capture_output=True)


@pytest.fixture
def two_previews(kube, edge, node_git, remote):  # type: ignore[no-untyped-def]
    """A public preview of acme/app and one of acme/other, each in its repository's namespace."""
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    namespaces = dict(pair.split("=", 1) for pair in edge["PREVIEW_NAMESPACES"].split(","))
    with ExitStack() as stack:
        opened = []
        for repository in ("acme/app", "acme/other"):
            backend = KubernetesBackend.connect(
                kubeconfig=kube.admin_kubeconfig, namespace=namespaces[repository]
            )
            open_preview = stack.enter_context(previews_of(
                backend, repo_url=node_git.url("remote.git"), edge=edge, image=kube.image,
                namespace=namespaces[repository], kube=kube))  # fmt: skip
            settings, env = open_preview(
                51, repository=repository, router="ingress", access="public"
            )
            opened.append((backend, settings, env))
        yield opened


def _pod_ip(kube, settings) -> str:  # type: ignore[no-untyped-def]
    with kube.client() as client:
        pods = client.get(f"/api/v1/namespaces/{settings.namespace}/pods",
                          params={"labelSelector": f"app.kubernetes.io/instance={settings.environment}"}).json()["items"]  # fmt: skip
    (ip,) = [p["status"]["podIP"] for p in pods if not p["metadata"].get("deletionTimestamp")]
    return ip


def test_a_preview_reaches_no_other_preview_nor_the_platform(
    kube, edge, two_previews, metadata_server, remote
):
    (backend_a, settings_a, env_a), (_, settings_b, _) = two_previews
    a, b = _pod_ip(kube, settings_a), _pod_ip(kube, settings_b)
    inside_a = "sp-" + a.replace(".", "-")
    targets = {
        "another preview's Streamlit": (b, 8501),
        "another preview's control port": (b, 8080),
        "the API server": (NODE_IP, API_PORT),
        "oauth2-proxy": (NODE_IP, SIGN_IN_PORT),
        "the receiver": (NODE_IP, RECEIVER_PORT),
        "the metadata address": (metadata_server, 80),
    }
    for what, (host, port) in targets.items():
        assert connect_from(None, host, port) == "open", (
            f"{what} does not answer even from the node"
        )
        assert connect_from(inside_a, host, port).startswith("blocked"), (
            f"the preview reached {what}"
        )

    # What must still work: the router reaches the preview, the workflow's sync through the
    # API server's proxy reaches its control port, and the preview reaches its git host.
    with router_client(edge) as client:
        assert wait_for_route(client, env_a.url).status_code == 200
    new = remote.commit({"streamlit_app.py": APP.format(n=2)})
    synced = lifecycle.sync_environment(backend_a, settings_a, lambda _: None)
    assert synced.commit == new
