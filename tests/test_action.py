"""The action as the runner runs it, for inputs and events that must change nothing: the
kmock-based emulator records every request, so these tests prove that nothing at all was sent
(the real control plane, tests/cluster/, runs the action's open, sync and close).

Covers: event actions that need nothing exit 0; every bad input exits 2 with one error
annotation before anything is applied; an event without a pull request; no kubeconfig.
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


def test_a_deleted_fork_is_treated_as_a_fork_and_opens_nothing(action, remote, github, cluster):
    """`head.repo: null` (the fork was deleted): fail closed, as for any fork's pull request."""
    event = action.event("opened", remote.head())
    event["pull_request"]["head"]["repo"] = None
    result = action(event)
    assert result.returncode == 0 and "fork" in result.stdout
    assert cluster[0].store == {}


def test_labeled_on_a_closed_pull_request_opens_nothing(action, remote, github, cluster):
    result = action(action.event("labeled", remote.head(), state="closed"))
    assert result.returncode == 0 and "nothing to do" in result.stdout
    assert cluster[0].store == {} and github.fake.requests == []


def test_webhook_url_must_be_https(action, remote, cluster):
    """It carries the git token."""
    result = action(
        action.event("opened", remote.head()), **{"webhook-url": "http://hooks.example.com/sync"}
    )
    assert (
        result.returncode == 2
        and "webhook-url" in _one_error(result)
        and "https" in _one_error(result)
    )
    assert cluster[0].store == {}


def test_an_empty_kubeconfig_says_so_in_one_line(action, remote, cluster):
    """Dependabot's and forks' runs get no secrets: the input is empty, and there is no other."""
    result = action(action.event("opened", remote.head()), kubeconfig="")
    error = _one_error(result)
    assert result.returncode == 2 and "kubeconfig" in error and "empty" in error
    assert "Invalid kube-config" not in result.stdout


def test_a_stale_synchronize_after_the_close_brings_nothing_back(action, remote, github, cluster):
    """Sync and close run in different concurrency groups: the `closed` run went first and
    deleted the preview; the `synchronize` run queued before it starts now. GitHub, asked,
    says the pull request is closed: nothing is applied and the comment stays as close left
    it (its event payload still says open)."""
    github.fake.closed_prs.add(7)
    closed = action(action.event("closed", remote.head(), state="closed"))
    assert closed.returncode == 0, closed.stdout + closed.stderr
    after_close = list(github.fake.comment_history)
    assert after_close and "closed" in after_close[-1][0]
    store_after_close = dict(cluster[0].store)
    asked_before = len(github.fake.requests)

    stale = action(action.event("synchronize", remote.head()))

    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert "is closed now" in stale.stdout
    assert cluster[0].store == store_after_close  # nothing applied
    assert github.fake.comment_history == after_close
    assert github.fake.requests[asked_before:] == [("GET", "/repos/octo/demo-app/pulls/7")]


def test_a_synchronize_on_an_open_pull_request_asks_github_once(action, remote, github, cluster):
    action(action.event("synchronize", remote.head()), mode="sync", wait_timeout="1s")
    asked = [p for m, p in github.fake.requests if p.endswith("/pulls/7")]
    assert asked == ["/repos/octo/demo-app/pulls/7"]
