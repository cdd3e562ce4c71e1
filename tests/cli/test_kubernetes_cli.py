"""The command line with `--backend kubernetes` against the emulator, and `render`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.fixtures.apiserver import kubeconfig_for, running_api_server
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


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    with running_api_server() as (api, url):
        yield api, url


def test_open_list_close_with_the_kubernetes_backend(tmp_path, remote, cluster):
    api, url = cluster
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(kubeconfig_for(url)))
    common = ["--backend", "kubernetes", "--kubeconfig", str(kubeconfig)]
    secret_env = tmp_path / "secrets.env"
    secret_env.write_text("API_KEY=from-a-file\n")

    opened = run("open", "--repo", remote.url, "--repository", "octo/cli-app", "--branch", "main", "--pr", "4",
                 "--domain", "previews.example.com", "--secret-env", str(secret_env), "--json", *common)  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    env = json.loads(opened.stdout)
    assert env["environment"] == "cli-app-pr-4" and env["commit"] == remote.head()
    assert "from-a-file" not in opened.stderr + opened.stdout

    listed = run("list", "--json", *common)
    assert [e["environment"] for e in json.loads(listed.stdout)] == ["cli-app-pr-4"]

    closed = run("close", "--repo", remote.url, "--repository", "octo/cli-app", "--pr", "4",
                 "--domain", "previews.example.com", "--json", *common)  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["status"] == "closed" and api.store == {}
