"""The Kubernetes backend against the kmock-based emulator, for what the real control plane
(tests/cluster/, the main Kubernetes suite) cannot be made to show:

- the exact requests an open sends (the emulator records each one: method, content type,
  field manager);
- a route CRD that is not installed (the test cluster has them all, as users of a router do):
  close still works, and a failed first open leaves nothing half made;
- an API server that does not answer at all.
"""

from __future__ import annotations

import pytest

from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from tests.fixtures.apiserver import kubeconfig_for, running_api_server


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    with running_api_server() as (api, url):
        yield api, url


def settings(remote, sha=None, **inputs):  # type: ignore[no-untyped-def]
    target = make_target(
        repository="octo/demo-app", repo_url=remote.url, branch="main", pr=7, sha=sha
    )
    return build_settings({"domain": "previews.example.com"} | inputs, target)


def backend(url: str) -> KubernetesBackend:
    return KubernetesBackend.connect(kubeconfig=kubeconfig_for(url), namespace="previews")


def quiet(line: str) -> None:
    pass


def test_open_costs_at_most_9_requests_before_the_wait(cluster, remote):
    api, url = cluster
    kube = backend(url)
    kube._wait_for_rollout = lambda settings, progress: None  # count the open itself
    # check none: the look at the page polls /status for as long as the page takes (timing)
    lifecycle.open_environment(kube, settings(remote, check="none"), quiet)
    assert kube.requests <= 9  # 8, and the cluster's defaults (is there a waker?)
    applies = [r for r in list(api) if str(r.method).upper().endswith("PATCH")]
    assert len(applies) == 4
    assert all(r.headers["Content-Type"] == "application/apply-patch+yaml" for r in applies)
    assert all(r.params == {"fieldManager": "streamlit-preview", "force": "true"} for r in applies)


def test_close_works_when_a_route_crd_is_not_installed(cluster, remote):
    api, url = cluster
    kube = backend(url)
    api.missing_kinds = {"httproutes"}
    lifecycle.open_environment(kube, settings(remote, router="ingress", gateway="nginx"), quiet)
    assert lifecycle.close_environment(kube, settings(remote), quiet).status == "closed"
    assert api.store == {}


def test_unreachable_api_is_a_one_line_service_error(remote):
    from streamlit_preview.errors import ServiceError

    kube = KubernetesBackend.connect(
        kubeconfig=kubeconfig_for("http://127.0.0.1:9"), namespace="previews"
    )
    kube.api.configuration.retries = 0
    with pytest.raises(ServiceError) as caught:
        lifecycle.open_environment(kube, settings(remote), quiet)
    assert "cannot reach the Kubernetes API" in str(caught.value) and "\n" not in str(caught.value)


def test_a_failed_first_open_leaves_nothing_half_made(cluster, remote):
    from streamlit_preview.errors import ServiceError

    api, url = cluster
    api.missing_kinds = {"virtualservices"}  # Istio is not installed: the route cannot apply
    with pytest.raises(ServiceError) as caught:
        lifecycle.open_environment(backend(url), settings(remote, router="istio"), quiet)
    assert "virtualservices" in str(caught.value) and "404" in str(caught.value)
    assert api.store == {} and api.pods == {}


def _jwt(expires_in: float) -> str:
    import base64
    import json
    import time

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'exp': time.time() + expires_in})}.c2ln"


def test_a_workflow_token_about_to_expire_is_renewed_before_the_request(cluster):
    api, url = cluster
    fresh = _jwt(600)
    asked: list[str] = []

    def renew() -> str:
        asked.append(fresh)
        return fresh

    kube = KubernetesBackend.connect(
        kubeconfig=kubeconfig_for(url, token=_jwt(30)), namespace="previews", renew=renew
    )
    kube.list()
    kube.list()
    assert asked == [fresh]  # once: the fresh one lasts
    assert list(api)[-1].headers["Authorization"] == f"Bearer {fresh}"


def test_a_lasting_token_is_kept(cluster):
    api, url = cluster
    lasting = _jwt(3600)
    kube = KubernetesBackend.connect(kubeconfig=kubeconfig_for(url, token=lasting),
                                     namespace="previews", renew=lambda: "never asked")  # fmt: skip
    kube.list()
    assert list(api)[-1].headers["Authorization"] == f"Bearer {lasting}"
