"""Hostile inputs get one clear line (exit 2) or a 4xx, and values reach the pod as sent."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256

import pytest

from streamlit_preview.config import build_settings, make_target
from streamlit_preview.render import render_manifests
from tests.fixtures.cli import render


@pytest.mark.parametrize(
    ("args", "named", "says"),
    [
        (("--env", "A=x\x01y"), "--env", "control character"),
        (("--env", "B=x\x7fz"), "--env", "control character"),
        (("--env", "A=1", "--env", "A=2"), "--env", "set twice"),
        (("--env", "HOME=/elsewhere"), "--env", "reserved"),
        (("--env", "PREVIEW_REPO=x"), "--env", "reserved"),
    ],
)
def test_bad_env_values_are_one_line(args, named, says):
    result = render(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert named in result.stderr and says in result.stderr


def test_the_same_variable_in_env_and_secret_env_is_one_line(tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("API_KEY=very-secret\n")
    result = render("--env", "API_KEY=plain", "--secret-env", str(secrets))
    assert result.returncode == 2
    assert "API_KEY" in result.stderr and "set each variable once" in result.stderr
    assert "very-secret" not in result.stderr


@pytest.mark.parametrize(
    "branch", ["feat\u2028line", "feat\u0085next", "feat\u2029para", "emoji-😀-ok"]
)
def test_branch_names_reach_the_pod_unchanged(branch):
    target = make_target(
        repository="o/r", repo_url="https://e.example/o/r.git", branch=branch, pr=1, sha=None
    )
    settings = build_settings({"domain": "p.example.com"}, target)
    (deployment,) = [
        o for o in render_manifests(settings, webhook_key="k") if o["kind"] == "Deployment"
    ]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["PREVIEW_BRANCH"] == branch


def _signed(reloader, body: bytes):  # type: ignore[no-untyped-def]
    signature = "sha256=" + hmac.new(reloader.secret, body, sha256).hexdigest()
    return reloader.http.post("/sync", content=body, headers={"X-Preview-Signature-256": signature})


def test_signed_bodies_with_absurd_values_are_4xx(reloader):
    cases = [
        json.dumps({"timestamp": 10**400}).encode(),
        b'{"timestamp": 1e999}',
        b"[" * 5000 + b"]" * 5000,
        json.dumps({"timestamp": "now"}).encode(),
    ]
    for body in cases:
        answer = _signed(reloader, body)
        assert 400 <= answer.status_code < 500, (body[:40], answer.status_code)
    assert reloader.http.get("/healthz").status_code == 200


def test_a_commit_of_another_branch_is_409(remote, reloader):
    from tests.fixtures.gitrepo import git

    git("checkout", "-q", "-b", "other", cwd=remote.work)
    elsewhere = remote.commit({"other.txt": "not on main\n"}, push=False)
    git("push", "-q", "origin", "other", cwd=remote.work)
    git("checkout", "-q", "main", cwd=remote.work)

    answer = reloader.sync(elsewhere)

    assert answer.status_code == 409, answer.text
    assert reloader.status()["commit"] == remote.head()
