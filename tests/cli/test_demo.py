"""The README's first command: `streamlit-preview demo --once`."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.fixtures.processes import ROOT


def test_demo_once_opens_syncs_closes_and_exits_0(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_preview", "demo", "--once", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^  (\w+) +\d+\.\d\d s", result.stderr, re.M)
    assert steps == ["repo", "open", "commit", "sync", "close"]
    assert "page now shows commit" in result.stderr
    assert not list((tmp_path / "environments").glob("*.json"))
