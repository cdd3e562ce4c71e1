"""The Kubernetes backend through the real `kubernetes` client over HTTP, against the
kmock-based emulator (strict schemas, 422 on invalid bodies) whose "kubelet" runs a real
reloader for each Deployment.

Covers: open → ready; requests per open; sync reaches the real reloader through the service
proxy; re-open keeps the webhook key; router switch removes the old route; close leaves
nothing (also with a route CRD missing); a hopeless rollout fails fast with the reason.
"""

from __future__ import annotations

import base64

import pytest

from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.errors import RolloutError, UnknownCommitError
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


def test_open_sync_close_against_the_emulator(cluster, remote):
    api, url = cluster
    kube = backend(url)

    opened = lifecycle.open_environment(kube, settings(remote), quiet)

    assert opened.status == "running" and opened.commit == remote.head()
    assert opened.url == "https://demo-app-pr-7.previews.example.com/"
    kinds = sorted(plural for plural, ns, name in api.store if name == "demo-app-pr-7")
    assert kinds == ["deployments", "secrets", "services", "virtualservices"]
    assert api.rejected == []

    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('synced')\n"})
    synced = lifecycle.sync_environment(kube, settings(remote, sha=new), quiet)
    assert synced.commit == new
    pod = api.pods[("previews", "demo-app-pr-7")]
    assert "synced" in (pod.folder / "workspace" / "streamlit_app.py").read_text()

    closed = lifecycle.close_environment(kube, settings(remote), quiet)
    assert closed.status == "closed"
    assert api.store == {} and api.pods == {}
    again = lifecycle.close_environment(kube, settings(remote), quiet)
    assert again.status == "missing"


def test_open_costs_at_most_8_requests_before_the_wait(cluster, remote):
    api, url = cluster
    kube = backend(url)
    kube._wait_for_rollout = lambda settings, progress: None  # count the open itself
    lifecycle.open_environment(kube, settings(remote), quiet)
    assert kube.requests <= 8
    applies = [r for r in list(api) if str(r.method).upper().endswith("PATCH")]
    assert len(applies) == 4
    assert all(r.headers["Content-Type"] == "application/apply-patch+yaml" for r in applies)
    assert all(r.params == {"fieldManager": "streamlit-preview", "force": "true"} for r in applies)


def test_reopen_keeps_the_webhook_key_and_sync_still_verifies(cluster, remote):
    api, url = cluster
    kube = backend(url)
    lifecycle.open_environment(kube, settings(remote), quiet)
    key = api.store[("secrets", "previews", "demo-app-pr-7")]["data"]["webhook-key"]
    lifecycle.open_environment(kube, settings(remote, cpu="250m"), quiet)
    assert api.store[("secrets", "previews", "demo-app-pr-7")]["data"]["webhook-key"] == key
    assert len(base64.b64decode(key)) == 64
    new = remote.commit({"a.txt": "1"})
    assert lifecycle.sync_environment(kube, settings(remote, sha=new), quiet).commit == new


def test_unknown_sha_is_reported(cluster, remote):
    _, url = cluster
    kube = backend(url)
    lifecycle.open_environment(kube, settings(remote), quiet)
    with pytest.raises(UnknownCommitError):
        lifecycle.sync_environment(kube, settings(remote, sha="b" * 40), quiet)


def test_sync_of_a_missing_environment_opens_it(cluster, remote):
    api, url = cluster
    env = lifecycle.sync_environment(backend(url), settings(remote, sha=remote.head()), quiet)
    assert env.commit == remote.head() and ("deployments", "previews", "demo-app-pr-7") in api.store


def test_switching_router_removes_the_old_route(cluster, remote):
    api, url = cluster
    kube = backend(url)
    lifecycle.open_environment(kube, settings(remote), quiet)
    lifecycle.open_environment(
        kube, settings(remote, router="gateway-api", gateway="infra/edge"), quiet
    )
    plurals = {plural for plural, _, _ in api.store}
    assert "httproutes" in plurals and "virtualservices" not in plurals


def test_close_works_when_a_route_crd_is_not_installed(cluster, remote):
    api, url = cluster
    kube = backend(url)
    api.missing_kinds = {"httproutes"}
    lifecycle.open_environment(kube, settings(remote, router="ingress", gateway="nginx"), quiet)
    assert lifecycle.close_environment(kube, settings(remote), quiet).status == "closed"
    assert api.store == {}


def test_image_pull_failure_fails_fast_with_the_reason(cluster, remote):
    _, url = cluster
    lines: list[str] = []
    with pytest.raises(RolloutError) as caught:
        lifecycle.open_environment(
            backend(url), settings(remote, image="ghcr.io/octo/does-not-exist:1", **{"wait-timeout": "60"}),
            lines.append,
        )  # fmt: skip
    assert "ImagePullBackOff" in str(caught.value)
    assert any("ImagePullBackOff" in line for line in lines)


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
        lifecycle.open_environment(backend(url), settings(remote), quiet)
    assert "virtualservices" in str(caught.value) and "404" in str(caught.value)
    assert api.store == {} and api.pods == {}


def test_gc_deletes_only_expired_environments(remote):
    from datetime import UTC, datetime, timedelta

    with running_api_server(run_pods=False) as (api, url):
        kube = backend(url)
        short = build_settings({"domain": "previews.example.com", "ttl": "1h"},
                               make_target(repository="octo/old-app", repo_url=remote.url, branch="main", pr=1, sha=None))  # fmt: skip
        lasting = settings(remote)  # the default ttl, 7d
        kube._reloader_status = lambda settings: {}  # no pods run in this test
        lifecycle.open_environment(kube, short, quiet)
        lifecycle.open_environment(kube, lasting, quiet)

        later = datetime.now(UTC) + timedelta(hours=2)
        assert [
            e.environment for e in kube.collect_expired(now=later, dry_run=True, progress=quiet)
        ] == ["old-app-pr-1"]
        assert any(name == "old-app-pr-1" for _, _, name in api.store)

        kube.collect_expired(now=later, dry_run=False, progress=quiet)
        assert {name for _, _, name in api.store} == {"demo-app-pr-7"}
