"""One version names everything that ships together."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml

from streamlit_preview import __version__
from tests.fixtures.processes import ROOT


def test_one_version_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((ROOT / "charts" / "streamlit-preview" / "Chart.yaml").read_text())
    image = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"]
    tag = re.search(r":(\d+\.\d+\.\d+)(?:-python[\d.]+)?(?:@|$)", image)
    assert tag is not None, image
    assert project == __version__ == chart["appVersion"] == tag.group(1)
    assert re.search(rf"^## {re.escape(project)}$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    printed = subprocess.run([sys.executable, "-m", "streamlit_preview", "--version"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert printed.split()[:2] == ["streamlit-preview", project]
