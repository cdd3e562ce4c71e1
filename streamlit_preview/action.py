"""The GitHub Action front: inputs and event → settings → lifecycle → report on the PR.

Parse, work, report. Every bad input exits 2 with one error annotation before anything is
applied; a failure of Kubernetes or the environment exits 1 with its reason, after the PR
comment and the Deployment say so. Reporting problems (permissions, GitHub outages) are
warnings: the preview itself still counts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from . import lifecycle, validation
from .backends.base import Backend, Environment
from .config import DEFAULTS, MODES, Settings, build_settings, make_target, parse_kubeconfig
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, InputError, PreviewError, ServiceError
from .github import CommentState, GitHub, Report
from .reporting import PullRequestReporter
from .runner import Runner

# pull_request actions → mode, for `mode: auto`.
AUTO_MODES = {
    "opened": "open", "reopened": "open", "labeled": "open", "ready_for_review": "open",
    "synchronize": "sync", "closed": "close",
}  # fmt: skip
INPUT_NAMES = [*DEFAULTS, "token"]


def resolve_mode(mode: str, action: str | None) -> str | None:
    """The mode to run, or None when an `auto` event needs nothing done."""
    validation.choice("mode", mode or "auto", MODES)
    if mode and mode != "auto":
        return mode
    return AUTO_MODES.get(action or "")


def settings_from_event(runner: Runner, inputs: dict[str, str], token: str) -> Settings | None:
    event_name, event = runner.event()
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        raise InputError(
            "event",
            f"{event_name or 'this event'} has no pull_request: run the action on pull_request or pull_request_target",
        )
    mode = resolve_mode(inputs.get("mode", ""), event.get("action"))
    if mode is None or _opens_a_closed_pull_request(event, mode):
        return None
    repository = (event.get("repository") or {}).get("full_name") or runner.environ.get(
        "GITHUB_REPOSITORY", ""
    )
    head = pull.get("head") or {}
    head_repo = head.get("repo") or {}
    base_repo = event.get("repository") or {}
    target = make_target(
        repository=repository,
        repo_url=head_repo.get("clone_url") or base_repo.get("clone_url") or "",
        branch=head.get("ref") or "", pr=pull.get("number") or event.get("number") or "",
        sha=head.get("sha"), owner_is_org=_owner_is_org(event),
    )  # fmt: skip
    private = bool(head_repo.get("private") or base_repo.get("private"))
    return build_settings(inputs | {"mode": mode}, target, git_token=token if private else None)


def _is_fork(event: dict[str, Any]) -> bool:
    """A pull request whose head lives in another repository than its base. A head whose
    repository is gone (`head.repo: null`, a deleted fork) counts as a fork: fail closed."""
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        return False  # not a pull request event at all: refused with its own message
    head_repo = (pull.get("head") or {}).get("repo")
    if not isinstance(head_repo, dict):
        return True
    head = head_repo.get("full_name")
    base = (event.get("repository") or {}).get("full_name")
    return not (head and base and head.lower() == base.lower())


def _opens_a_closed_pull_request(event: dict[str, Any], mode: str) -> bool:
    """`labeled` (or any opening action) on a closed pull request opens nothing."""
    return mode != "close" and (event.get("pull_request") or {}).get("state") == "closed"


def _owner_is_org(event: dict[str, Any]) -> bool:
    owner = (event.get("repository") or {}).get("owner") or {}
    return owner.get("type", "Organization") == "Organization"


def _mask_kubeconfig(runner: Runner, text: str) -> None:
    """Hide the kubeconfig's credentials (and the whole input when it is one base64 line)."""
    if not text.strip():
        return
    if "\n" not in text.strip():
        runner.mask(text)
    try:
        kubeconfig = parse_kubeconfig("kubeconfig", text)
    except InputError:
        return  # reported with its name when the settings are built
    for user in kubeconfig.get("users") or []:
        for key, value in ((user or {}).get("user") or {}).items():
            if key in ("token", "password", "client-key-data", "client-certificate-data"):
                runner.mask(str(value))


def connect(settings: Settings) -> Backend:
    from .backends.kubernetes import KubernetesBackend

    return KubernetesBackend.connect(kubeconfig=settings.kubeconfig, namespace=settings.namespace)


def _fork_settings(
    runner: Runner, inputs: dict[str, str], token: str, github: Callable[[str], GitHub]
) -> Settings | None:
    """A fork's pull request: previewed only once approved, pinned to the approved commit.

    Only `pull_request_target` events act (they carry the base repository's permissions
    and run no code of the fork here): `labeled` with the approval label by someone with
    write access opens the preview at the head commit; `synchronize` takes the label off and
    says new commits need a new approval; `closed` closes. Forks never get `secret-env`,
    `secrets-toml` or a git token.
    """
    event_name, event = runner.event()
    pull = event.get("pull_request") or {}
    label = (inputs.get("approve-label") or "").strip() or DEFAULTS["approve-label"]
    action = event.get("action")
    if event_name != "pull_request_target" or action not in ("labeled", "synchronize", "closed"):
        runner.notice(f"a pull request from a fork is previewed once someone with write access adds the '{label}' label",
                      title="streamlit-preview")  # fmt: skip
        return None
    head = pull.get("head") or {}
    target = make_target(
        repository=(event.get("repository") or {}).get("full_name") or runner.environ.get("GITHUB_REPOSITORY", ""),
        repo_url=(head.get("repo") or {}).get("clone_url") or "", branch=head.get("ref") or "",
        pr=pull.get("number") or "", sha=head.get("sha"), owner_is_org=_owner_is_org(event),
    )  # fmt: skip
    if _opens_a_closed_pull_request(event, "close" if action == "closed" else "open"):
        return None
    safe = inputs | {"secret-env": "", "secrets-toml": ""}
    if action == "closed":
        return build_settings(safe | {"mode": "close"}, target)
    settings = replace(build_settings(safe | {"mode": "open"}, target), pin=head.get("sha"))
    client = github(target.repository)
    if action == "synchronize":
        client.remove_label(target.pr, label)
        if settings.comment:
            client.upsert_comment(target.pr, Report(
                environment=settings.environment, state=CommentState.WAITING, url=settings.url,
                commit=None, log_url=runner.run_url,
                detail=f"New commits were pushed from the fork: someone with write access must add the "
                       f"`{label}` label again to preview them. The preview keeps the approved commit.",
            ))  # fmt: skip
        runner.notice(
            f"new commits from the fork need a new '{label}' label", title="streamlit-preview"
        )
        return None
    if (event.get("label") or {}).get("name") != label:
        return None
    sender = (event.get("sender") or {}).get("login") or ""
    if not sender or not client.can_write(sender):
        raise ServiceError(
            f"approve-label: '{label}' was added by @{sender or 'someone'}, who has no write access "
            f"to {target.repository}; the fork is not previewed"
        )
    return settings


def run(runner: Runner, *, connect: Callable[[Settings], Backend] = connect) -> int:
    inputs = runner.inputs(INPUT_NAMES)
    token = inputs.pop("token", "").strip()
    runner.mask(token)
    _mask_kubeconfig(runner, inputs.get("kubeconfig", ""))
    for line in inputs.get("secret-env", "").splitlines():
        runner.mask(line.partition("=")[2])
    for line in inputs.get("secrets-toml", "").splitlines():  # each value, and each whole line
        runner.mask(line.partition("=")[2].strip().strip("\"'"))
        runner.mask(line)
    api_url = runner.environ.get("GITHUB_API_URL", "https://api.github.com")
    if _is_fork(runner.event()[1]):
        settings = _fork_settings(
            runner,
            inputs,
            token,
            lambda repo: GitHub(token=token, repository=repo, api_url=api_url),
        )
    else:
        settings = settings_from_event(runner, inputs, token)
    if settings is None:
        runner.notice("nothing to do for this pull_request action", title="streamlit-preview")
        return 0
    if settings.mode != "close" and token and _closed_since(runner, settings, token, api_url):
        runner.notice(
            f"pull request #{settings.target.pr} is closed now: nothing is opened or synced "
            "(this run's event was queued before the close)", title="streamlit-preview",
        )  # fmt: skip
        return 0
    backend = connect(settings)
    github = None
    if token and (settings.comment or settings.deployment):
        github = GitHub(token=token, repository=settings.target.repository, api_url=api_url)
    reporter = _reporter(runner, github, settings)
    with runner.group(f"streamlit-preview {settings.mode} {settings.environment}"):
        if settings.mode == "close":
            closed = lifecycle.close_pull_request(backend, settings, runner.info)
            env = closed[0]
            reporter.closed(env)
            for other in closed[1:]:  # the pull request's other named previews
                each = replace(settings, environment=other.environment, name=other.name)
                _reporter(runner, github, each).closed(other)
        else:
            reporter.started(settings.target.sha)
            verb = (
                lifecycle.open_environment
                if settings.mode == "open"
                else lifecycle.sync_environment
            )
            try:
                env = verb(backend, settings, runner.info)
            except PreviewError as exc:
                reporter.failed(str(exc), commit=settings.target.sha)
                raise
            reporter.succeeded(env)
    _write_outputs(runner, settings, env, reporter)
    if env.status == "app error":  # the preview runs, but its page shows an exception
        runner.error(env.app_error or "app error", title="streamlit-preview: app error")
        return EXIT_FAILURE
    return 0


def _reporter(runner: Runner, github: GitHub | None, settings: Settings) -> PullRequestReporter:
    return PullRequestReporter(
        github=github, environment=settings.environment, pr=settings.target.pr,
        name=settings.name, url=settings.url, comment=settings.comment,
        deployment=settings.deployment, log_url=runner.run_url,
        warn=lambda line: runner.warning(line, title="streamlit-preview"),
    )  # fmt: skip


def _closed_since(runner: Runner, settings: Settings, token: str, api_url: str) -> bool:
    """Whether GitHub says the pull request is closed, whatever the event said: a `synchronize`
    run can start after the `closed` run deleted the preview, and must not bring it back. When
    GitHub cannot be asked, a warning, and the event is trusted."""
    github = GitHub(token=token, repository=settings.target.repository, api_url=api_url)
    try:
        return not github.pull_request_is_open(settings.target.pr)
    except ServiceError as exc:
        runner.warning(f"could not ask GitHub whether the pull request is open: {exc}",
                       title="streamlit-preview")  # fmt: skip
        return False
    finally:
        github.close()


def _write_outputs(
    runner: Runner, settings: Settings, env: Environment, reporter: PullRequestReporter
) -> None:
    outputs = {
        "url": env.url or "",
        "environment": settings.environment,
        "namespace": settings.namespace,
        "commit": env.commit or "",
        "deployment-id": reporter.deployment_id or "",
        "comment-id": reporter.comment_id or "",
    }
    for name, value in outputs.items():
        runner.set_output(name, value)
    rows = "\n".join(f"| {name} | {value} |" for name, value in outputs.items() if value)
    runner.summary(
        f"### Streamlit preview: {settings.mode} {env.status}\n\n| | |\n|---|---|\n{rows}\n"
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    runner = Runner(os.environ if environ is None else environ)
    try:
        return run(runner)
    except InputError as exc:
        runner.error(str(exc), title="streamlit-preview: bad input")
        return EXIT_BAD_INPUT
    except PreviewError as exc:
        runner.error(str(exc), title="streamlit-preview failed")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
