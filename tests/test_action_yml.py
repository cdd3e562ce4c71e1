"""action.yml documents every input with the same defaults as the code, and every output."""

from __future__ import annotations

import yaml

from streamlit_preview.action import INPUT_NAMES
from streamlit_preview.config import DEFAULTS
from tests.fixtures.processes import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
OUTPUTS = {"url", "environment", "namespace", "commit", "deployment-id", "comment-id"}


def test_inputs_match_the_code_and_are_documented():
    assert set(ACTION["inputs"]) == set(INPUT_NAMES)
    for name, spec in ACTION["inputs"].items():
        assert len(spec["description"]) > 30, name
        if name != "token":
            assert str(spec["default"]) == DEFAULTS[name], name
    assert ACTION["inputs"]["token"]["default"] == "${{ github.token }}"


def test_outputs_are_the_contracts():
    assert set(ACTION["outputs"]) == OUTPUTS
    assert all(spec["description"] for spec in ACTION["outputs"].values())


def test_docker_action_runs_the_entrypoint():
    assert ACTION["runs"]["using"] == "docker"
    assert "/opt/streamlit-preview/entrypoint.py" in ACTION["runs"]["args"]
    assert ACTION["branding"]["icon"] and ACTION["branding"]["color"]
