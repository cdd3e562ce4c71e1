"""The action as the runner runs it: a plain process with INPUT_*, GITHUB_* and an event file,
against the API emulator (a real reloader per Deployment) and GitHub through Prism.

Covers: open → sync (the reloader's commit changes) → close leaves nothing; open twice keeps
one comment; deployments go in_progress → success → inactive; outputs and summary; every bad
input exits 2 with one error annotation before anything is applied.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.fixtures.apiserver import kubeconfig_for, running_api_server
from tests.fixtures.processes import ROOT

REPOSITORY = "octo/demo-app"


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    with running_api_server() as (api, url):
        yield api, url


class ActionRun:
    def __init__(self, tmp_path, remote, github, kube_url) -> None:  # type: ignore[no-untyped-def]
        self.tmp, self.remote, self.github, self.kube_url = tmp_path, remote, github, kube_url
        self.count = 0

    def event(self, action: str, sha: str, **pull: object) -> dict:
        return {
            "action": action, "number": 7,
            "pull_request": {"number": 7, "head": {"ref": "main", "sha": sha,
                             "repo": {"clone_url": self.remote.url, "private": False}}} | pull,
            "repository": {"full_name": REPOSITORY, "clone_url": self.remote.url, "private": False},
        }  # fmt: skip

    def __call__(self, event: dict | None, event_name: str = "pull_request", **inputs: str):  # type: ignore[no-untyped-def]
        self.count += 1
        folder = self.tmp / f"run{self.count}"
        folder.mkdir()
        event_path = folder / "event.json"
        event_path.write_text(json.dumps(event or {}))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "INPUT_", "PREVIEW_"))
        }
        env |= {
            "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": self.github.url,
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42",
            "GITHUB_OUTPUT": str(folder / "output"), "GITHUB_STEP_SUMMARY": str(folder / "summary"),
            "HOME": str(folder),  # no ~/.kube/config of the machine's
        }  # fmt: skip
        defaults = {"token": "ghs_actiontoken", "domain": "previews.example.com",
                    "kubeconfig": yaml.safe_dump(kubeconfig_for(self.kube_url))}  # fmt: skip
        for name, value in (defaults | inputs).items():
            env[f"INPUT_{name.upper()}"] = value
        result = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], env=env,
                                capture_output=True, text=True, timeout=240, cwd=folder)  # fmt: skip
        result.outputs = _read_outputs(folder / "output")
        result.summary = (folder / "summary").read_text() if (folder / "summary").exists() else ""
        return result


def _read_outputs(path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    outputs: dict[str, str] = {}
    if not path.exists():
        return outputs
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        outputs[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return outputs


@pytest.fixture
def action(tmp_path, remote, github, cluster):  # type: ignore[no-untyped-def]
    return ActionRun(tmp_path, remote, github, cluster[1])


def test_open_sync_close_end_to_end(action, remote, github, cluster):
    api, _ = cluster
    first = remote.head()

    opened = action(action.event("opened", first))

    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert opened.outputs["url"] == "https://demo-app-pr-7.previews.example.com/"
    assert (
        opened.outputs["environment"] == "demo-app-pr-7"
        and opened.outputs["namespace"] == "previews"
    )
    assert opened.outputs["commit"] == first
    assert opened.outputs["deployment-id"] and opened.outputs["comment-id"]
    assert "demo-app-pr-7" in opened.summary
    assert "::group::" in opened.stdout
    leaks = [ln for ln in (opened.stdout + opened.stderr).splitlines()
             if ("ghs_actiontoken" in ln or "test-token" in ln) and not ln.startswith("::add-mask::")]  # fmt: skip
    assert leaks == []
    assert (
        "::add-mask::ghs_actiontoken" in opened.stdout and "::add-mask::test-token" in opened.stdout
    )
    comments = github.fake.comments_by_pr[7]
    assert len(comments) == 1 and "ready" in comments[0]["body"]
    assert github.fake.statuses[int(opened.outputs["deployment-id"])] == ["in_progress", "success"]

    second = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('pushed')\n"})
    synced = action(action.event("synchronize", second))

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert synced.outputs["commit"] == second
    pod = api.pods[("previews", "demo-app-pr-7")]
    assert "pushed" in (pod.folder / "workspace" / "streamlit_app.py").read_text()
    assert len(github.fake.comments_by_pr[7]) == 1
    assert second[:12] in github.fake.comments_by_pr[7][0]["body"]
    assert github.fake.statuses[int(opened.outputs["deployment-id"])][-1] == "inactive"

    closed = action(action.event("closed", second), event_name="pull_request_target")

    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert api.store == {} and api.pods == {}
    assert "closed" in github.fake.comments_by_pr[7][0]["body"]
    assert all(states[-1] == "inactive" for states in github.fake.statuses.values())


def test_open_twice_keeps_one_comment(action, remote, github):
    for _ in range(2):
        result = action(action.event("opened", remote.head()))
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(github.fake.comments_by_pr[7]) == 1


def test_switches_turn_reporting_off(action, remote, github):
    result = action(action.event("opened", remote.head()), comment="false", deployment="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert github.fake.requests == []
    assert result.outputs["deployment-id"] == "" and result.outputs["comment-id"] == ""


def test_event_actions_that_need_nothing_exit_0(action, remote, github, cluster):
    result = action(action.event("assigned", remote.head()))
    assert result.returncode == 0 and "nothing to do" in result.stdout
    assert cluster[0].store == {} and github.fake.requests == []


def _one_error(result) -> str:  # type: ignore[no-untyped-def]
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, result.stdout + result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"mode": "deploy"}, "mode"),
        ({"domain": ""}, "domain"),
        ({"env": "NOT A LINE"}, "env"),
        ({"node-selector": "no-equals-sign"}, "node-selector"),
        ({"gpu": "many"}, "gpu"),
        ({"kubeconfig": "this is: [not a kubeconfig"}, "kubeconfig"),
        ({"cpu": "a lot"}, "cpu"),
        ({"wait-timeout": "forever"}, "wait-timeout"),
        ({"router": "traefik"}, "router"),
        ({"comment": "maybe"}, "comment"),
    ],
)
def test_bad_inputs_exit_2_before_anything_is_applied(
    action, remote, github, cluster, inputs, named
):
    result = action(action.event("opened", remote.head()), **inputs)
    assert result.returncode == 2
    assert f"::{named}: " in _one_error(result)
    assert cluster[0].store == {} and github.fake.requests == []


def test_event_without_pull_request_exits_2(action, github, cluster):
    result = action({"ref": "refs/heads/main"}, event_name="push")
    assert result.returncode == 2
    assert "pull_request" in _one_error(result)
    assert cluster[0].store == {}


def test_unreadable_kubeconfig_file_exits_2(action, remote, tmp_path):
    result = action(action.event("opened", remote.head()), kubeconfig="")
    # no input and no cluster around: KUBECONFIG is unset in tests
    assert result.returncode == 2
    assert "kubeconfig" in _one_error(result)
