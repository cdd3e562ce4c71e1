"""The command line keeps its word: validation, JSON, help, secrets never echoed, list."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from streamlit_preview.naming import environment_name
from tests.fixtures.processes import ROOT

REPO = ("--repo", "https://example.com/octo/app.git")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamlit_preview", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env)  # fmt: skip


def test_render_validates_like_a_kubernetes_open():
    result = run("render", *REPO, "--branch", "main", "--pr", "3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--domain" in result.stderr
    assert "null" not in result.stdout


def test_render_json_prints_json():
    result = run(
        "render",
        *REPO,
        "--branch",
        "main",
        "--pr",
        "3",
        "--domain",
        "previews.example.com",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in json.loads(result.stdout)]
    assert kinds == ["Secret", "Service", "Deployment", "HTTPRoute"]  # router: gateway-api


def test_kubeconfig_content_given_as_a_path_is_never_echoed():
    content = "apiVersion: v1\nusers:\n- user:\n    token: sekret-token-123\n"
    result = run("open", *REPO, "--branch", "main", "--pr", "3", "--backend", "kubernetes",
                 "--domain", "p.example.com", "--kubeconfig", content)  # fmt: skip
    assert result.returncode == 2
    assert "sekret-token-123" not in result.stderr and "apiVersion" not in result.stderr
    assert "--kubeconfig" in result.stderr and "expected the path of a file" in result.stderr


def test_every_subcommand_has_a_one_sentence_description():
    for command in ("open", "sync", "close", "list", "render", "gc", "demo"):
        help_text = run(command, "--help").stdout
        description = help_text.split("\n\n")[1].strip()
        assert description.endswith(".") and description[0].isupper(), (command, description)


def test_close_lists_only_the_flags_that_apply_to_it():
    help_text = run("close", "--help").stdout
    for absent in ("--domain", "--cpu", "--image", "--env", "--sha", "--branch", "--gpu"):
        assert absent not in help_text
    for present in ("--repo", "--pr", "--backend", "--namespace", "--kubeconfig", "--json"):
        assert present in help_text


def test_sync_usage_says_when_branch_is_needed(tmp_path):
    assert "does not exist yet" in " ".join(run("sync", "--help").stdout.split())
    result = run("sync", *REPO, "--pr", "3", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "branch" in result.stderr and "required" in result.stderr


def test_list_prints_a_header_row(tmp_path, remote):
    state = tmp_path / "state"
    opened = run(
        "open", "--repo", remote.url, "--branch", "main", "--pr", "1", "--state-dir", str(state)
    )
    assert opened.returncode == 0, opened.stderr
    try:
        lines = run("list", "--state-dir", str(state)).stdout.splitlines()
        assert lines[0].split() == ["ENVIRONMENT", "STATUS", "COMMIT", "AGE", "SYNCED", "URL"]
        assert lines[1].startswith(environment_name(remote.url, 1))
        _, status, _, age, synced, url = lines[1].split()
        assert (
            status == "running"
            and age.endswith("s")
            and synced.endswith("s")
            and url.startswith("http")
        )
        listed = json.loads(run("list", "--json", "--state-dir", str(state)).stdout)
        assert listed[0]["created_at"].endswith("Z") and listed[0]["synced_at"].endswith("Z")
    finally:
        run("close", "--repo", remote.url, "--pr", "1", "--state-dir", str(state))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_state_folder_is_an_error(tmp_path):
    state = tmp_path / "state"
    (state / "records").mkdir(parents=True)
    (state / "records").chmod(0)
    result = run("list", "--state-dir", str(state))
    assert result.returncode == 1
    assert "cannot read the state folder" in result.stderr


def test_a_state_folder_that_is_a_file_is_an_error(tmp_path):
    state = tmp_path / "state"
    state.write_text("not a folder")
    result = run("list", "--state-dir", str(state))
    assert result.returncode == 1
    assert "cannot read the state folder" in result.stderr


def test_namespace_or_kubeconfig_mean_the_kubernetes_backend(tmp_path, remote):
    """`close --namespace NS` as the docs show it must not succeed on the local backend."""
    result = run("close", "--repo", remote.url, "--pr", "1", "--namespace", "previews",
                 "--kubeconfig", str(tmp_path / "missing"), "--state-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 2 and "was not there" not in result.stderr
    assert result.stderr.startswith("error: --kubeconfig")  # read as Kubernetes' kubeconfig
    mixed = run("close", "--backend", "local", "--repo", remote.url, "--pr", "1",
                "--namespace", "previews", "--state-dir", str(tmp_path))  # fmt: skip
    assert mixed.returncode == 2 and mixed.stderr.startswith("error: --namespace")
    assert len(mixed.stderr.strip().splitlines()) == 1


def test_a_github_url_names_the_preview_as_the_action_does():
    result = run("render", "--repo", "https://github.com/acme/app", "--branch", "main",
                 "--pr", "12", "--domain", "previews.example.com", "--router", "ingress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "name: acme-app-pr-12" in result.stdout and "98d9fc" not in result.stdout
    assert "streamlit-preview.dev/repository: acme.app" in result.stdout
    assert "streamlit-preview.dev/pr: '12'" in result.stdout


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ["--cluster-url", "http://203.0.113.10:6443"],
            "error: --cluster-url: expected the API server's https URL",
        ),
        (
            ["--cluster-url", "https://203.0.113.10:6443", "--cluster-ca", "{notca}"],
            "error: --cluster-ca: expected the API server's CA certificate (PEM, or its base64)",
        ),
        (
            ["--cluster-url", "https://203.0.113.10:6443", "--oidc-audience", "two words"],
            "error: --oidc-audience: expected one audience word",
        ),
        (
            [
                "--namespace",
                "previews",
                "--domain",
                "previews.example.com",
                "--sleep-after",
                "soon",
            ],
            "error: --sleep-after: expected a duration",
        ),
    ],
)
def test_a_bad_cluster_or_sleep_flag_is_one_line_naming_the_flag(tmp_path, flags, line):
    (tmp_path / "notca").write_text("not a certificate\n")
    args = [f.format(notca=tmp_path / "notca") for f in flags]
    result = run("open", "--repo", "https://github.com/acme/app", "--branch", "main", "--pr", "1",
                 *args, env={"HOME": str(tmp_path), "KUBECONFIG": ""})  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith(line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
