"""`streamlit-preview` with `--backend kubernetes` against the real control plane.

open (with a secret-env file), list and close as a user runs them, with the example Role's
token; close needs no `--domain`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.cluster.conftest import NAMESPACE, objects_of
from tests.fixtures.processes import ROOT

pytestmark = pytest.mark.cluster


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamlit_preview", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT)  # fmt: skip


def test_open_list_close_with_the_kubernetes_backend(tmp_path, node_git, kube, sa_kubeconfig):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(sa_kubeconfig))
    common = ["--backend", "kubernetes", "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE]
    secret_env = tmp_path / "secrets.env"
    secret_env.write_text("API_KEY=from-a-file\n")
    repo = node_git.url("remote.git")

    opened = run("open", "--repo", repo, "--repository", "octo/cli-app", "--branch", "main", "--pr", "4",
                 "--domain", "previews.example.com", "--access", "public", "--image", kube.image, "--secret-env", str(secret_env),
                 "--json", *common)  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    env = json.loads(opened.stdout)
    assert env["commit"] and env["environment"].endswith("-pr-4")
    assert "from-a-file" not in opened.stderr + opened.stdout

    listed = run("list", "--json", *common)
    assert env["environment"] in [e["environment"] for e in json.loads(listed.stdout)]

    closed = run(
        "close", "--repo", repo, "--repository", "octo/cli-app", "--pr", "4", "--json", *common
    )
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["status"] == "closed"
    assert objects_of(kube, env["environment"]).keys() <= {"pods", "replicasets"}  # collected next
