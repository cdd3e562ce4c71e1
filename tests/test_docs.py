"""The docs, followed the way a user follows them.

- Every ```bash block in docs/ runs here, in a scratch folder beside a real git repository
  (`../my-app` with a branch `my-feature`, as the docs name it), with the installed command
  line on PATH, unless an HTML comment right before it says
  `<!-- doc-test: skip (reason) -->` (a cluster, GitHub, a registry or the network).
- Every ```yaml block parses, and each Kubernetes object in it is validated by the same
  strict schemas as the rendered manifests (shape only for kinds with no vendored schema).
- Every relative link points to a file that exists.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.gitrepo import git
from tests.fixtures.processes import ROOT
from tests.fixtures.schemas import crd_schemas, validate_object

DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(
    r"(?P<before>(?:<!--[^\n]*-->\s*\n)?)[ \t]*```(?P<lang>\w*)\n(?P<body>.*?)\n[ \t]*```", re.S
)
NO_VENDORED_SCHEMA = {"cert-manager.io/v1", "gateway.networking.k8s.io/v1"}


def _blocks(lang: str):  # type: ignore[no-untyped-def]
    for path in DOCS:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            if match.group("lang") != lang:
                continue
            line = text[: match.start("body")].count("\n") + 1
            body = match.group("body")
            indent = min(
                (len(ln) - len(ln.lstrip()) for ln in body.splitlines() if ln.strip()), default=0
            )
            body = "\n".join(ln[indent:] for ln in body.splitlines())
            yield pytest.param(match.group("before"), body, id=f"{path.name}:{line}")


@pytest.mark.parametrize(("marker", "script"), list(_blocks("bash")))
def test_shell_blocks_run_offline(marker, script, tmp_path):
    if "doc-test: skip" in marker:
        reason = re.search(r"doc-test: skip \((.+)\)", marker)
        assert reason, "a skipped block says why, in parentheses"
        pytest.skip(reason.group(1))
    app = tmp_path / "my-app"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    (app / "streamlit_app.py").write_text("import streamlit as st\nst.title('my app')\n")
    git("add", "-A", cwd=app)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "first", cwd=app)
    git("branch", "my-feature", cwd=app)
    work = tmp_path / "work"
    work.mkdir()
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env,
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, f"{script}\n---\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(("marker", "text"), list(_blocks("yaml")))
def test_yaml_blocks_are_valid(marker, text):
    for document in yaml.safe_load_all(text):
        if not isinstance(document, dict) or "apiVersion" not in document:
            continue
        if document.get("kind") == "AuthenticationConfiguration":  # what the dev cluster runs
            from devcluster.controlplane import authentication_config

            tested = authentication_config("https://issuer", "")["jwt"][0]
            (shown,) = document["jwt"]
            assert shown["claimMappings"] == tested["claimMappings"]
            assert shown["issuer"]["audiences"] == tested["issuer"]["audiences"]
            continue
        if (
            document["apiVersion"] in NO_VENDORED_SCHEMA
            and (document["apiVersion"], document["kind"]) not in crd_schemas()
        ):
            assert document["metadata"]["name"] and document["spec"]
            continue
        validate_object(document)


def test_relative_links_point_to_files():
    for path in [*DOCS, ROOT / "README.md"]:
        for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name}: {target}"
