"""`scripts/cluster down` leaves nothing behind even when the node agent could not stop its pods
(it was killed while closing previews): `sweep_sandboxes` ends every process in the pods'
network namespaces and removes the namespaces and the containers' layers."""

from __future__ import annotations

import subprocess

import pytest

from devcluster.container import sweep_sandboxes
from tests.fixtures.pods import RenderedPod, render

pytestmark = pytest.mark.image


def _netns() -> set[str]:
    return set(
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    )


def test_sweep_ends_a_pod_whose_runner_died(project_image, node_git, tmp_path):
    root = tmp_path / "node"
    pod = RenderedPod(render(project_image, node_git.url("remote.git")), root)
    pod.start()
    pod.wait_ready()
    pids = subprocess.run(
        ["ip", "netns", "pids", pod.sandbox.netns], capture_output=True, text=True
    ).stdout.split()
    assert len(pids) >= 3  # tini, the reloader, Streamlit
    # The runner dies without stopping anything: as a SIGKILLed node agent leaves its pods.
    pod.container.process = None

    removed = sweep_sandboxes(root)

    assert removed == [pod.sandbox.netns] and pod.sandbox.netns not in _netns()
    for pid in pids:
        state = subprocess.run(
            ["ps", "-o", "stat=", "-p", pid], capture_output=True, text=True
        ).stdout.strip()
        assert state in ("", "Z"), f"{pid} still runs ({state})"
    containers = subprocess.run(["buildah", "containers", "--format", "{{.ContainerName}}"],
                                capture_output=True, text=True).stdout.split()  # fmt: skip
    assert pod.container.name not in containers
