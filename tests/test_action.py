"""The action as the runner runs it: a plain process with INPUT_*, GITHUB_* and an event file,
against the API emulator (a real reloader per Deployment) and GitHub through Prism.

Covers: open → sync (the reloader's commit changes) → close leaves nothing; open twice keeps
one comment; deployments go in_progress → success → inactive; outputs and summary; every bad
input exits 2 with one error annotation before anything is applied.
"""

from __future__ import annotations

import pytest

from tests.fixtures.action import ActionRun
from tests.fixtures.apiserver import kubeconfig_for, running_api_server

REPOSITORY = "octo/demo-app"


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    with running_api_server() as (api, url):
        yield api, url


@pytest.fixture
def action(tmp_path, remote, github, cluster):  # type: ignore[no-untyped-def]
    return ActionRun(tmp_path, github, kubeconfig_for(cluster[1]), remote.url, REPOSITORY)


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
