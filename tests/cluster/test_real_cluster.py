"""Against a cluster of yours, or the development cluster: runs when KUBECONFIG is set.

    KUBECONFIG=~/.kube/config PREVIEW_TEST_REPO=https://github.com/o/app.git \
    PREVIEW_TEST_BRANCH=main PREVIEW_TEST_IMAGE=ghcr.io/o/streamlit-preview:dev \
    python -m pytest tests/cluster

After `eval "$(scripts/cluster up)"` it needs nothing more: the image is PREVIEW_IMAGE and the
repository is served from this machine to the node (NODE_IP). Elsewhere the namespace
(PREVIEW_TEST_NAMESPACE, default `previews`) must exist, the image must be pullable and the
repository reachable from the pods. No route is made (router none), so no domain is needed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from streamlit_preview import lifecycle
from streamlit_preview.config import build_settings, make_target

# Read at import: the autouse fixture clears KUBECONFIG and PREVIEW_* for each test.
KUBECONFIG = os.environ.get("KUBECONFIG")
IMAGE = os.environ.get("PREVIEW_TEST_IMAGE") or os.environ.get("PREVIEW_IMAGE")
REPO = os.environ.get("PREVIEW_TEST_REPO")
BRANCH = os.environ.get("PREVIEW_TEST_BRANCH")
NAMESPACE = os.environ.get("PREVIEW_TEST_NAMESPACE", "previews")
DEVELOPMENT_CLUSTER = bool(os.environ.get("NODE_IP")) and not REPO
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not KUBECONFIG, reason="needs a real cluster: set KUBECONFIG"),
]


@pytest.fixture
def repository(request) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    if DEVELOPMENT_CLUSTER:  # scripts/cluster up: a git server on the node's address
        return request.getfixturevalue("node_git").url("remote.git"), "main"
    return REPO or "https://github.com/streamlit/streamlit-example.git", BRANCH or "master"


def _settings(repo: str, branch: str):  # type: ignore[no-untyped-def]
    target = make_target(repository=f"cluster-test-{int(time.time()) % 100000}", repo_url=repo,
                         branch=branch, pr=1, sha=None)  # fmt: skip
    inputs = {"router": "none", "namespace": NAMESPACE, "wait-timeout": "10m", "ttl": "1h",
              "access": "public"}  # fmt: skip
    if IMAGE:
        inputs["image"] = IMAGE
    return build_settings(inputs, target, needs_route=False)


def test_open_sync_close_on_a_real_cluster(repository):
    from streamlit_preview.backends.kubernetes import KubernetesBackend

    kubeconfig = yaml.safe_load(Path(KUBECONFIG).read_text())  # type: ignore[arg-type]
    settings = _settings(*repository)
    kube = KubernetesBackend.connect(kubeconfig=kubeconfig, namespace=settings.namespace)
    try:
        opened = lifecycle.open_environment(kube, settings, print)
        assert opened.status == "running" and opened.commit
        synced = lifecycle.sync_environment(kube, settings, print)
        assert synced.commit == opened.commit
        assert any(e.environment == settings.environment for e in kube.list())
    finally:
        closed = lifecycle.close_environment(kube, settings, print)
    assert closed.status == "closed"
    assert lifecycle.close_environment(kube, settings, print).status == "missing"
