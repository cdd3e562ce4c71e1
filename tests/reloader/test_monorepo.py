"""Monorepos: the requirements next to the app come before the repository's root ones, as on
Streamlit Community Cloud; a `packages.txt` is reported, never silently ignored."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.fixtures.processes import ROOT
from tests.fixtures.wheels import make_wheel

APP = "import streamlit as st\nimport {module}\nst.write('uses ' + {module}.NAME)\n"


def test_requirements_next_to_the_app_win_and_packages_txt_is_reported(tmp_path, remote):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    near = make_wheel(wheels, "near_pkg", "1.0", "NAME = 'near'\n")
    root = make_wheel(wheels, "root_pkg", "1.0", "NAME = 'root'\n")
    remote.commit({
        "apps/dash/streamlit_app.py": APP.format(module="near_pkg"),
        "apps/dash/requirements.txt": f"near_pkg @ {near.as_uri()}\n",
        "apps/dash/packages.txt": "libgdal-dev\n",
        "requirements.txt": f"root_pkg @ {root.as_uri()}\n",
    })  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_preview", "open", "--repo", remote.url, "--branch", "main",
         "--pr", "1", "--app", "apps/dash/streamlit_app.py", "--json", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr
        env = json.loads(result.stdout)
        assert env["status"] == "running" and env["app_error"] is None  # near_pkg was installed
        notes = [line for line in result.stderr.splitlines() if "packages.txt" in line]
        assert len(notes) == 1 and "apps/dash/packages.txt" in notes[0] and "image" in notes[0]
    finally:
        subprocess.run([sys.executable, "-m", "streamlit_preview", "close", "--repo", remote.url, "--pr", "1",
                        "--state-dir", str(tmp_path / "state")], capture_output=True, timeout=60, cwd=ROOT)  # fmt: skip
