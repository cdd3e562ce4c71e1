"""Against a real cluster: runs when KUBECONFIG is set, skipped otherwise.

    KUBECONFIG=~/.kube/config PREVIEW_TEST_REPO=https://github.com/o/app.git \
    PREVIEW_TEST_BRANCH=main PREVIEW_TEST_IMAGE=ghcr.io/o/streamlit-preview:dev \
    python -m pytest tests/cluster

The namespace (PREVIEW_TEST_NAMESPACE, default `previews`) must exist and the image must be
pullable by the cluster; the repository must be reachable from the pods. No route is made
(router none), so no domain or gateway is needed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from streamlit_preview import lifecycle
from streamlit_preview.config import build_settings, make_target

KUBECONFIG = os.environ.get("KUBECONFIG")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not KUBECONFIG, reason="needs a real cluster: set KUBECONFIG"),
]


def _settings(sha=None):  # type: ignore[no-untyped-def]
    repo = os.environ.get("PREVIEW_TEST_REPO", "https://github.com/streamlit/streamlit-example.git")
    target = make_target(repository=f"cluster-test-{int(time.time()) % 100000}", repo_url=repo,
                         branch=os.environ.get("PREVIEW_TEST_BRANCH", "master"), pr=1, sha=sha)  # fmt: skip
    inputs = {"router": "none", "namespace": os.environ.get("PREVIEW_TEST_NAMESPACE", "previews"),
              "wait-timeout": "10m", "ttl": "1h"}  # fmt: skip
    if os.environ.get("PREVIEW_TEST_IMAGE"):
        inputs["image"] = os.environ["PREVIEW_TEST_IMAGE"]
    return build_settings(inputs, target, needs_route=False)


def test_open_sync_close_on_a_real_cluster():
    from streamlit_preview.backends.kubernetes import KubernetesBackend

    kubeconfig = yaml.safe_load(Path(KUBECONFIG).read_text())  # type: ignore[arg-type]
    settings = _settings()
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
