"""The real control plane for tests/cluster: from `scripts/cluster up` when its exports are set,
otherwise started for this test session (its processes die with the run).

Every test runs the action with the token of the example ServiceAccount
(the chart's Role in the shared `previews` namespace), from a TokenRequest, so RBAC is real
for it. tests/cluster/test_boundaries.py signs in with the workflow's OIDC token instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from devcluster.container import NODE_IP, can_run_containers
from devcluster.controlplane import ControlPlane

# Read before the autouse fixture clears KUBECONFIG and PREVIEW_* for each test.
_EXTERNAL = {k: os.environ.get(k) for k in ("KUBECONFIG", "NODE_IP", "PREVIEW_IMAGE")}
_EDGE_KEYS = (
    "PREVIEW_DOMAIN",
    "ROUTER_IP",
    "PREVIEW_CA",
    "GITHUB_OAUTH_URL",
    "GITHUB_OIDC_URL",
    "PREVIEW_NAMESPACES",
)
_EXTERNAL_EDGE = {k: os.environ.get(k) or "" for k in _EDGE_KEYS}
NAMESPACE = "previews"


class ClusterAccess:
    """What the tests need of a running cluster: admin access, tokens, the node and image."""

    def __init__(
        self, kubeconfig: dict, image: str, node_ip: str, edge: dict[str, str] | None = None
    ) -> None:
        self.edge = edge or {}  # PREVIEW_DOMAIN, ROUTER_IP, PREVIEW_CA, GITHUB_OAUTH_URL
        self.admin_kubeconfig = kubeconfig
        self.image = image
        self.node_ip = node_ip
        cluster = kubeconfig["clusters"][0]["cluster"]
        self.server = cluster["server"]
        self.admin_token = kubeconfig["users"][0]["user"]["token"]
        self.ca_data = cluster["certificate-authority-data"]

    def client(self, token: str | None = None) -> httpx.Client:
        """The API server as the admin, or as the holder of `token`."""
        from devcluster.cluster import client_for

        return client_for(self.admin_kubeconfig, token)

    def kubeconfig(self, token: str) -> dict:
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "ci",
            "clusters": [{"name": "local", "cluster": {"server": self.server, "certificate-authority-data": self.ca_data}}],
            "users": [{"name": "ci", "user": {"token": token}}],
            "contexts": [{"name": "ci", "context": {"cluster": "local", "user": "ci", "namespace": NAMESPACE}}],
        }  # fmt: skip

    def service_account_token(self, name: str = "streamlit-preview") -> str:
        """A short-lived token of the ServiceAccount, as `kubectl create token` makes one."""
        with self.client() as client:
            answer = client.post(
                f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}/token",
                json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                      "spec": {"expirationSeconds": 3600}},
            )  # fmt: skip
            answer.raise_for_status()
            return answer.json()["status"]["token"]


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterAccess]:
    if _EXTERNAL["KUBECONFIG"] and _EXTERNAL["NODE_IP"] and _EXTERNAL["PREVIEW_IMAGE"]:
        config = yaml.safe_load(Path(_EXTERNAL["KUBECONFIG"]).read_text())
        edge = _EXTERNAL_EDGE if all(_EXTERNAL_EDGE.values()) else None
        yield ClusterAccess(config, _EXTERNAL["PREVIEW_IMAGE"], _EXTERNAL["NODE_IP"], edge)
        return
    reason = can_run_containers()
    if reason:
        pytest.skip(f"the test control plane needs to run pods here: {reason}")
    from devcluster.cluster import running_cluster

    with running_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        plane: ControlPlane = cluster.plane
        yield ClusterAccess(plane.kubeconfig(), cluster.image, NODE_IP, cluster.edge)


@pytest.fixture
def sa_kubeconfig(kube: ClusterAccess) -> dict:
    return kube.kubeconfig(kube.service_account_token())


@pytest.fixture
def node_git(remote, kube) -> Iterator:  # type: ignore[no-untyped-def]
    from tests.fixtures.githttp import GitHttpServer

    with GitHttpServer(remote.root, None, host=kube.node_ip) as server:
        yield server


def objects_of(kube: ClusterAccess, environment: str) -> dict[str, list[str]]:
    """Names of every object of an environment, by kind, including what controllers made."""
    selector = f"app.kubernetes.io/instance={environment}"
    paths = {
        "secrets": f"/api/v1/namespaces/{NAMESPACE}/secrets",
        "services": f"/api/v1/namespaces/{NAMESPACE}/services",
        "pods": f"/api/v1/namespaces/{NAMESPACE}/pods",
        "deployments": f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
        "persistentvolumeclaims": f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims",
        "replicasets": f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets",
        "virtualservices": f"/apis/networking.istio.io/v1/namespaces/{NAMESPACE}/virtualservices",
        "httproutes": f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes",
        "ingresses": f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses",
    }
    found: dict[str, list[str]] = {}
    with kube.client() as client:
        for kind, path in paths.items():
            items = client.get(path, params={"labelSelector": selector}).json().get("items", [])
            names = [i["metadata"]["name"] for i in items]
            if names:
                found[kind] = names
    return found


__all__ = ["NAMESPACE", "NODE_IP", "ClusterAccess", "objects_of"]


# -- the edge: router, sign-in, a reviewer's browser (tests/cluster/test_edge.py) ----------


@pytest.fixture
def edge(kube: ClusterAccess) -> dict[str, str]:
    if not kube.edge:
        pytest.skip("this cluster has no router and sign-in exported (scripts/cluster up does)")
    return kube.edge


@pytest.fixture
def reviewer_browser(edge, playwright_driver) -> Iterator:  # type: ignore[no-untyped-def]
    """Chromium that resolves the preview domain to the router and trusts the cluster's CA."""
    from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.fixtures.edge import spki

    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP *.{edge['PREVIEW_DOMAIN']} {edge['ROUTER_IP']}",
            f"--ignore-certificate-errors-spki-list={spki(edge['PREVIEW_CA'])}"]  # fmt: skip
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=args)
    yield browser
    browser.close()


@contextmanager
def previews_of(
    backend,
    *,
    repo_url: str,
    edge: dict[str, str],
    image: str,  # type: ignore[no-untyped-def]
    namespace: str = NAMESPACE,
    kube: ClusterAccess | None = None,
) -> Iterator:
    """`open_preview(pr, repository="acme/shop", **inputs)` on the edge's domain, in
    `namespace`; every preview it opened is closed afterwards (and, given `kube`, its pods
    waited for until gone)."""
    from streamlit_preview import lifecycle
    from streamlit_preview.config import build_settings, make_target

    opened = []

    def open_preview(pr: int, repository: str = "acme/shop", **inputs: str):  # type: ignore[no-untyped-def]
        target = make_target(
            repository=repository, repo_url=repo_url, branch="main", pr=pr, sha=None
        )
        settings = build_settings({"domain": edge["PREVIEW_DOMAIN"], "image": image, "namespace": namespace,
                                   "wait-timeout": "3m"} | inputs, target)  # fmt: skip
        opened.append(settings)
        return settings, lifecycle.open_environment(backend, settings, lambda _: None)

    try:
        yield open_preview
    finally:
        for settings in opened:
            lifecycle.close_environment(backend, settings, lambda _: None)
        if kube is not None:
            wait_pods_gone(kube, [s.environment for s in opened], namespace=namespace)


@pytest.fixture
def previews(node_git, kube, sa_kubeconfig, edge) -> Iterator:  # type: ignore[no-untyped-def]
    """(backend, open_preview(pr, **inputs)) on the edge's domain; all closed afterwards."""
    from streamlit_preview.backends.kubernetes import KubernetesBackend

    backend = KubernetesBackend.connect(kubeconfig=sa_kubeconfig, namespace=NAMESPACE)
    with previews_of(backend, repo_url=node_git.url("remote.git"), edge=edge, image=kube.image,
                     kube=kube) as open_preview:  # fmt: skip
        yield backend, open_preview


def wait_pods_gone(
    kube: ClusterAccess, environments: list[str], timeout: float = 90, namespace: str = NAMESPACE
) -> None:
    """After a close: wait until the environments' pods are gone, not only deleted, so the
    next test that reuses a name finds none of them terminating."""
    import time

    deadline = time.monotonic() + timeout
    with kube.client() as client:
        for name in environments:
            while (
                time.monotonic() < deadline
                and client.get(
                    f"/api/v1/namespaces/{namespace}/pods",
                    params={"labelSelector": f"app.kubernetes.io/instance={name}"},
                ).json()["items"]
            ):
                time.sleep(0.5)
