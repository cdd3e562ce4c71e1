"""The README's first command: `streamlit-preview demo --once`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.fixtures.processes import ROOT


def test_demo_once_opens_syncs_closes_and_exits_0(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_preview", "demo", "--once", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=os.environ | {"TMPDIR": str(temp)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^  (\w+) +\d+\.\d\d s", result.stderr, re.M)
    assert steps == ["repo", "open", "commit", "sync", "close"]
    assert "the page's title is now 'Hello from a pull request'" in result.stderr
    assert "demo-demo-app-pr-1" in result.stderr
    assert not list((tmp_path / "state" / "environments").glob("*.json"))
    assert list(temp.iterdir()) == [], "the demo leaves nothing in the temporary folder"
