"""The Kubernetes backend through the real `kubernetes` client, against the real control plane,
with the example Role's token.

Covers: sync reaches the pod through the real service proxy and an unknown commit is a 409;
re-open keeps the webhook key; a sync of a missing environment opens it; a router switch
removes the old route; requests per open; gc deletes only what has expired.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.errors import UnknownCommitError
from streamlit_preview.signing import status_request_headers
from tests.cluster.conftest import NAMESPACE, objects_of, wait_pods_gone

pytestmark = pytest.mark.cluster


def quiet(line: str) -> None:
    pass


@pytest.fixture
def preview(node_git, kube, sa_kubeconfig):  # type: ignore[no-untyped-def]
    """(backend, settings factory); every environment it opened is closed afterwards."""
    backend = KubernetesBackend.connect(kubeconfig=sa_kubeconfig, namespace=NAMESPACE)
    made = []

    def settings(sha=None, repository="octo/demo-app", pr=7, **inputs):  # type: ignore[no-untyped-def]
        target = make_target(repository=repository, repo_url=node_git.url("remote.git"),
                             branch="main", pr=pr, sha=sha)  # fmt: skip
        built = build_settings({"domain": "previews.example.com", "image": kube.image, "access": "public",
                                "wait-timeout": "3m"} | inputs, target)  # fmt: skip
        made.append(built)
        return built

    yield backend, settings
    for built in made:
        lifecycle.close_environment(backend, built, quiet)
    wait_pods_gone(kube, [built.environment for built in made])


def _secret(kube, name: str) -> dict:  # type: ignore[no-untyped-def]
    with kube.client() as client:
        return client.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}").json()


def test_sync_reaches_the_pod_and_an_unknown_commit_is_refused(preview, remote):
    backend, settings = preview
    opened = lifecycle.open_environment(backend, settings(), quiet)
    assert opened.commit == remote.head()
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('synced')\n"})
    assert lifecycle.sync_environment(backend, settings(sha=new), quiet).commit == new
    with pytest.raises(UnknownCommitError):
        lifecycle.sync_environment(backend, settings(sha="b" * 40), quiet)


def test_reopen_keeps_the_webhook_key_and_sync_still_verifies(preview, remote, kube):
    backend, settings = preview
    opened = lifecycle.open_environment(backend, settings(), quiet)
    key = _secret(kube, opened.environment)["data"]["webhook-key"]
    lifecycle.open_environment(backend, settings(cpu="250m"), quiet)
    assert _secret(kube, opened.environment)["data"]["webhook-key"] == key
    assert len(base64.b64decode(key)) == 64
    new = remote.commit({"a.txt": "1"})
    assert lifecycle.sync_environment(backend, settings(sha=new), quiet).commit == new


def test_sync_of_a_missing_environment_opens_it(preview, remote, kube):
    backend, settings = preview
    env = lifecycle.sync_environment(backend, settings(sha=remote.head()), quiet)
    assert env.commit == remote.head()
    assert "deployments" in objects_of(kube, env.environment)


def test_switching_router_removes_the_old_route(preview, kube):
    backend, settings = preview
    opened = lifecycle.open_environment(backend, settings(), quiet)
    lifecycle.open_environment(backend, settings(router="gateway-api", gateway="infra/edge"), quiet)
    kinds = objects_of(kube, opened.environment)
    assert "httproutes" in kinds and "virtualservices" not in kinds


def test_open_costs_at_most_11_requests_before_the_wait(preview):
    backend, settings = preview
    backend._wait_for_rollout = lambda settings, progress: None  # count the open itself
    lifecycle.open_environment(backend, settings(check="none"), quiet)  # the page's look is its own
    # 8 as before, the cluster's defaults (it declares a waker), and the two objects that let
    # the preview sleep and wake (its wake Middleware and the chain the route references)
    assert backend.requests <= 11


def test_gc_deletes_only_expired_environments(preview, kube):
    backend, settings = preview
    short = lifecycle.open_environment(
        backend, settings(repository="octo/old-app", pr=1, ttl="1h"), quiet
    )
    lasting = lifecycle.open_environment(backend, settings(), quiet)
    later = datetime.now(UTC) + timedelta(hours=2)

    expired = backend.collect_expired(now=later, dry_run=True, progress=quiet)
    assert [e.environment for e in expired] == [short.environment]
    assert "deployments" in objects_of(kube, short.environment)

    backend.collect_expired(now=later, dry_run=False, progress=quiet)
    assert "deployments" not in objects_of(kube, short.environment)
    assert "deployments" in objects_of(kube, lasting.environment)


def test_objects_of_another_repository_are_never_touched(preview, kube):
    """Should two repositories ever share a name, neither may take over or close the other's."""
    from streamlit_preview.errors import ServiceError
    from streamlit_preview.naming import labels_for

    backend, settings = preview
    ours = settings()
    theirs = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": ours.environment, "namespace": NAMESPACE, "labels": labels_for(ours.environment),
                           "annotations": {"streamlit-preview.dev/repository": "someone/else"}},
              "data": {"webhook-key": base64.b64encode(b"theirs").decode()}}  # fmt: skip
    with kube.client() as client:
        client.post(f"/api/v1/namespaces/{NAMESPACE}/secrets", json=theirs).raise_for_status()
        try:
            for verb in (
                lifecycle.open_environment,
                lifecycle.sync_environment,
                lifecycle.close_environment,
            ):
                with pytest.raises(ServiceError, match="belongs to repository someone/else"):
                    verb(backend, ours, quiet)
            kept = client.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{ours.environment}").json()
            assert kept["data"]["webhook-key"] == theirs["data"]["webhook-key"]
            assert "deployments" not in objects_of(kube, ours.environment)
        finally:
            client.delete(f"/api/v1/namespaces/{NAMESPACE}/secrets/{ours.environment}")


def test_tolerations_let_a_preview_onto_a_tainted_pool(preview, kube):
    """The real scheduler: a NoSchedule taint keeps a preview off the node until tolerated."""
    from streamlit_preview.errors import RolloutError

    backend, settings = preview
    node = "/api/v1/nodes/preview-node"
    with kube.client() as client:
        before = client.get(node).json()["spec"].get("taints") or []
        spot = {"key": "pool", "value": "spot", "effect": "NoSchedule"}
        patch = {"spec": {"taints": [*before, spot]}}
        headers = {"Content-Type": "application/merge-patch+json"}
        client.patch(node, content=json.dumps(patch), headers=headers).raise_for_status()
        try:
            with pytest.raises(RolloutError, match="untolerated taint"):
                lifecycle.open_environment(
                    backend, settings(repository="octo/spot-a", **{"wait-timeout": "15s"}), quiet
                )
            opened = lifecycle.open_environment(
                backend,
                settings(repository="octo/spot-b", tolerations="pool=spot:NoSchedule"),
                quiet,
            )
            assert opened.status == "running"
        finally:
            restore = {"spec": {"taints": before}}
            client.patch(node, content=json.dumps(restore), headers=headers).raise_for_status()


def test_data_volume_and_setup_survive_a_pod_restart(preview, kube):
    """`data-size` makes a PersistentVolumeClaim; what `setup` writes there outlives the pod."""
    import time

    backend, settings = preview
    setup = ('if [ -f "$PREVIEW_DATA_DIR/kept" ]; then echo "found $(cat "$PREVIEW_DATA_DIR/kept")"; '
             'else echo first-run > "$PREVIEW_DATA_DIR/kept"; echo made-it; fi')  # fmt: skip
    opened = lifecycle.open_environment(
        backend, settings(**{"data-size": "1Gi", "setup": setup}), quiet
    )
    name = opened.environment
    status_path = f"/api/v1/namespaces/{NAMESPACE}/services/{name}:control/proxy/status"
    with kube.client() as client:
        key = base64.b64decode(_secret(kube, name)["data"]["webhook-key"])
        detail = client.get(
            status_path, params={"detail": "1"}, headers=status_request_headers(key)
        ).json()
        assert "made-it" in detail["setup"]["tail"]  # setup's output: in the signed detail only
        assert client.get(status_path).json()["setup"]["tail"] is None
        assert objects_of(kube, name)["persistentvolumeclaims"] == [name]
        pod = client.get(
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            params={"labelSelector": f"app.kubernetes.io/instance={name}"},
        ).json()["items"][0]
        client.delete(
            f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}"
        ).raise_for_status()
        deadline = time.monotonic() + 120
        tail: list[str] = []
        while time.monotonic() < deadline:
            answer = client.get(
                status_path, params={"detail": "1"}, headers=status_request_headers(key)
            )
            if (
                answer.status_code == 200
                and (answer.json().get("setup") or {}).get("state") == "succeeded"
            ):
                tail = answer.json()["setup"]["tail"]
                if any("found" in line for line in tail):
                    break
            time.sleep(1)
        assert "found first-run" in tail, tail
    lifecycle.close_environment(backend, settings(**{"data-size": "1Gi", "setup": setup}), quiet)
    deadline = time.monotonic() + 90  # the claim goes once its pod has (pvc-protection)
    while "persistentvolumeclaims" in objects_of(kube, name) and time.monotonic() < deadline:
        time.sleep(1)
    assert "persistentvolumeclaims" not in objects_of(kube, name)


def test_ttl_counts_from_the_last_sync(preview, kube):
    """Every sync moves `expires-at`: gc never deletes a preview synced within its ttl."""
    import time

    backend, settings = preview
    opened = lifecycle.open_environment(backend, settings(ttl="1h", check="none"), quiet)
    first = next(e for e in backend.list() if e.environment == opened.environment).expires_at
    time.sleep(1.5)
    lifecycle.sync_environment(backend, settings(ttl="1h", check="none"), quiet)
    moved = next(e for e in backend.list() if e.environment == opened.environment).expires_at
    assert first and moved and moved > first
    expired = backend.collect_expired(
        now=first + timedelta(seconds=1), dry_run=False, progress=quiet
    )
    assert opened.environment not in [e.environment for e in expired]
    assert objects_of(kube, opened.environment).get("deployments") == [opened.environment]


def test_a_pod_the_limits_refuse_is_reported_at_once_with_the_limit(preview, remote):
    """The examples' LimitRange allows 16Gi per container: asking for 32Gi, no pod can be
    created. The open fails within seconds, naming the limit, not after `wait-timeout` with
    "the pod never became ready"."""
    import time

    from streamlit_preview.errors import RolloutError

    backend, settings = preview
    started = time.monotonic()
    with pytest.raises(RolloutError) as refused:
        lifecycle.open_environment(backend, settings(pr=61, memory="32Gi"), quiet)
    took = time.monotonic() - started
    message = str(refused.value)
    assert "no pod could be created" in message and "16Gi" in message, message
    assert "\n" not in message and took < 60, (took, message)


def test_every_object_carries_its_repository_pr_and_app_as_labels(preview, remote, kube):
    backend, settings = preview
    opened = lifecycle.open_environment(backend, settings(pr=62), quiet)
    with kube.client() as client:
        for path in (f"/apps/v1/namespaces/{NAMESPACE}/deployments", f"/v1/namespaces/{NAMESPACE}/services",
                     f"/v1/namespaces/{NAMESPACE}/secrets", f"/v1/namespaces/{NAMESPACE}/pods"):  # fmt: skip
            prefix = "/api" if path.startswith("/v1") else "/apis"
            items = client.get(prefix + path, params={
                "labelSelector": f"app.kubernetes.io/instance={opened.environment}"}).json()["items"]  # fmt: skip
            assert items, path
            for item in items:
                labels = item["metadata"]["labels"]
                assert labels["streamlit-preview.dev/repository"] == "octo.demo-app", path
                assert labels["streamlit-preview.dev/pr"] == "62"
                assert labels["streamlit-preview.dev/app"] == "default"
