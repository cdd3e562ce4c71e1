"""Reporting through Prism (GitHub's official OpenAPI description) to a stateful fake."""

from __future__ import annotations

import httpx
import pytest

from streamlit_preview.errors import ServiceError
from streamlit_preview.github import (
    MARKER,
    CommentState,
    GitHub,
    Report,
    deployment_environment,
    deployment_task,
    render_comment,
)


def client(github, token: str = "ghs_token") -> GitHub:  # type: ignore[no-untyped-def]
    return GitHub(token=token, repository="octo/demo-app", api_url=github.url)


def report(state: str = "ready") -> Report:
    return Report(environment="demo-app-pr-7", state=CommentState(state), url="https://demo-app-pr-7.example.com/",
                  commit="a" * 40, log_url="https://github.com/octo/demo-app/actions/runs/1")  # fmt: skip


def test_sticky_comment_is_edited_in_place(github):
    gh = client(github)
    first = gh.upsert_comment(7, report("building"))
    second = gh.upsert_comment(7, report("ready"))
    assert first == second
    comments = github.fake.comments_by_pr[7]
    assert len(comments) == 1 and "ready" in comments[0]["body"]
    assert comments[0]["body"].startswith(MARKER.format(environment="demo-app-pr-7"))


def test_other_peoples_comments_quoting_the_marker_are_never_edited(github):
    marker = MARKER.format(environment="demo-app-pr-7")
    github.fake.add_foreign_comment(7, marker + "\nI quoted the bot")
    client(github).upsert_comment(7, report())
    comments = github.fake.comments_by_pr[7]
    assert len(comments) == 2 and comments[0]["body"].endswith("I quoted the bot")


def test_personal_token_recognises_its_own_comments(github):
    github.fake.token_login = "octocat"
    gh = client(github)
    gh.upsert_comment(7, report())
    gh.upsert_comment(7, report("closed"))
    assert len(github.fake.comments_by_pr[7]) == 1


def test_comments_are_found_across_pages(github):
    for i in range(130):
        github.fake.add_foreign_comment(7, f"comment {i}")
    gh = client(github)
    gh.upsert_comment(7, report())
    gh.upsert_comment(7, report())
    assert len(github.fake.comments_by_pr[7]) == 131


def test_deployments_progress_and_only_the_previous_one_becomes_inactive(github):
    gh = client(github)
    task = deployment_task(7)
    assert gh.latest_deployment("preview", task=task) is None
    first = gh.start_deployment(
        environment="preview", sha="a" * 40, description="preview", task=task
    )
    gh.set_status(first, "success", log_url="https://x/log", environment_url="https://e/")
    gh.start_deployment(
        environment="preview", sha="c" * 40, description="other", task=deployment_task(8)
    )
    assert gh.latest_deployment("preview", task=task) == first  # not the other PR's
    second = gh.start_deployment(
        environment="preview", sha="b" * 40, description="preview", task=task
    )
    gh.deactivate(first, log_url=None)
    assert github.fake.statuses[first] == ["in_progress", "success", "inactive"]
    assert github.fake.statuses[second] == ["in_progress"]
    assert gh.latest_deployment("preview", task=task) == second
    created = github.fake.deployment_list[0]
    assert created["transient_environment"] is True and created["production_environment"] is False


def test_one_github_environment_per_repository_and_app():
    assert deployment_environment(None) == "preview"
    assert deployment_environment("admin") == "preview-admin"


def test_the_collaborator_check_admits_collaborators_only(github):
    """On a public repository the permission endpoint says `read` for anyone: the
    collaborator check (204 or 404) is what tells collaborators apart."""
    github.fake.collaborators = {"maintainer"}
    gh = client(github)
    assert gh.is_collaborator("maintainer") is True
    assert gh.is_collaborator("passer-by") is False


def test_github_says_whether_a_pull_request_is_still_open(github):
    gh = client(github)
    assert gh.pull_request_is_open(7) is True
    github.fake.closed_prs.add(7)
    assert gh.pull_request_is_open(7) is False


def test_server_errors_are_retried(github):
    github.fake.fail_next = 2
    assert client(github).upsert_comment(7, report()) > 0


def test_persistent_failure_is_a_service_error(github):
    github.fake.fail_next = 100
    with pytest.raises(ServiceError):
        client(github).upsert_comment(7, report())


def test_prism_rejects_a_malformed_request(github):
    response = httpx.post(f"{github.url}/repos/octo/demo-app/deployments",
                          json={"environment": "x"}, headers={"Authorization": "Bearer t"})  # fmt: skip
    assert response.status_code == 422


def test_app_output_in_the_comment_is_fenced_and_cut():
    """What a fork's app printed cannot become markdown, a mention or an image in the bot's
    comment, and a failed preview's URL is not presented as working."""
    hostile = (
        "\n".join(f"line {i}" for i in range(50))
        + "\n```\n@octo/maintainers ![x](https://evil.example/x.png)"
    )
    body = render_comment(Report(environment="e", state=CommentState.FAILED, url="https://e.example/",
                                 commit=None, log_url=None, output=hostile))  # fmt: skip
    assert "````text" in body  # a fence longer than any backtick run inside
    assert "line 49" in body and "line 10" not in body  # the last lines only
    fenced = body.split("````text\n", 1)[1].split("\n````", 1)[0]
    assert "@octo/maintainers" in fenced  # inside the code block: no mention, no image
    assert "https://e.example/" not in body
