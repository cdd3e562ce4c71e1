"""`render` prints valid manifests and applies nothing (the rest of `--backend kubernetes` runs
against the real control plane: tests/cluster/test_cli_on_cluster.py)."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.fixtures.processes import ROOT
from tests.fixtures.schemas import validate_object


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "streamlit_preview", *args], capture_output=True,
                          text=True, timeout=180, cwd=cwd)  # fmt: skip


def test_render_prints_valid_manifests_and_applies_nothing():
    result = run("render", "--repo", "https://example.com/octo/app.git", "--branch", "feat/x", "--pr", "3",
                 "--backend", "kubernetes", "--domain", "previews.example.com", "--router", "gateway-api",
                 "--gateway", "infra/edge", "--env", "A=1", "--gpu", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    objects = list(yaml.safe_load_all(result.stdout))
    assert [o["kind"] for o in objects] == ["Secret", "Service", "Deployment", "HTTPRoute"]
    for obj in objects:
        validate_object(obj)
