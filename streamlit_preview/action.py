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

from . import lifecycle
from .config import Settings, build_settings, make_target
from .decide import AskApproval, Close, EventTarget, Open, Skip, Sync, decide, target_from_event
from .environment import Backend, Environment, Status
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, InputError, PreviewError, ServiceError
from .github import CommentState, GitHub, Report
from .inputs import DEFAULTS, parse_kubeconfig
from .reporting import PullRequestReporter
from .runner import Runner

INPUT_NAMES = [*DEFAULTS, "token"]


def settings_for(
    target: EventTarget,
    decision: Open | Sync | Close,
    inputs: dict[str, str],
    token: str,
    *,
    needs_route: bool = True,
) -> Settings:
    """The settings of the decided mode. Forks never get `secret-env`, `secrets-toml` or a
    git token; a private repository's branch gets the job's token to clone with."""
    checked = make_target(
        repository=target.repository, repo_url=target.repo_url, branch=target.branch,
        pr=target.pr, sha=target.sha, owner_is_org=target.owner_is_org,
    )  # fmt: skip
    mode = {Open: "open", Sync: "sync", Close: "close"}[type(decision)]
    if target.fork:
        safe = inputs | {"secret-env": "", "secrets-toml": "", "mode": mode}
        settings = build_settings(safe, checked, needs_route=needs_route)
        return replace(settings, pin=decision.pin) if isinstance(decision, Open) else settings
    git_token = token if target.private else None
    return build_settings(
        inputs | {"mode": mode}, checked, git_token=git_token, needs_route=needs_route
    )


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

    return KubernetesBackend.connect(kubeconfig=settings.kubeconfig, namespace=settings.namespace,
                                     renew=settings.token_renewal)  # fmt: skip


def run(runner: Runner, *, connect: Callable[[Settings], Backend] = connect) -> int:
    inputs = runner.inputs(INPUT_NAMES)
    token = inputs.pop("token", "").strip()
    _mask_secrets(runner, inputs, token)
    api_url = runner.environ.get("GITHUB_API_URL", "https://api.github.com")
    event_name, event = runner.event()
    decision = decide(event_name, event, inputs)
    target = target_from_event(event, repository=runner.environ.get("GITHUB_REPOSITORY", ""))
    if isinstance(decision, Skip):
        runner.notice(decision.reason, title="streamlit-preview")
        return 0
    client = GitHub(token=token, repository=target.repository, api_url=api_url)
    if isinstance(decision, AskApproval):
        # The fork's safe settings, as an open of it would have them: its comment's name.
        safe = settings_for(target, Open(), inputs, token, needs_route=False)
        _ask_for_approval(runner, safe, decision, client)
        return 0
    from .backends.kubernetes import cluster_credential, with_defaults_of

    kubeconfig, renew = cluster_credential(inputs, runner.environ, mask=runner.mask)
    inputs = with_defaults_of(inputs, kubeconfig, renew)
    settings = replace(settings_for(target, decision, inputs, token), kubeconfig=kubeconfig,
                       token_renewal=renew)  # fmt: skip
    if isinstance(decision, Open) and decision.approved_by is not None:
        _check_approver(settings, decision.approved_by, client)
    backend = connect(settings)
    # A sync would open a missing preview: unless GitHub says the pull request is still open
    # (its `closed` run may have deleted the preview while this run waited in its queue).
    reopens = settings.mode == "sync" and not backend.exists(settings)
    if reopens and token and _closed_since(runner, settings, client):
        runner.notice(
            f"pull request #{settings.target.pr} is closed now: its preview is not opened again "
            "(this run's event was queued before the close)", title="streamlit-preview",
        )  # fmt: skip
        return 0
    github = client if token and (settings.comment or settings.deployment) else None
    reporter = _reporter(runner, github, settings)
    with runner.group(f"streamlit-preview {settings.mode} {settings.environment}"):
        env = _carry_out(runner, backend, settings, reporter, github)
    _write_outputs(runner, settings, env, reporter)
    if env.status is Status.APP_ERROR:  # the preview runs, but its page shows an exception
        runner.error(env.app_error or "app error", title="streamlit-preview: app error")
        return EXIT_FAILURE
    return 0


def _mask_secrets(runner: Runner, inputs: Mapping[str, str], token: str) -> None:
    """Hide every secret the inputs hold from the job's log, before anything is logged."""
    runner.mask(token)
    _mask_kubeconfig(runner, inputs.get("kubeconfig", ""))
    for line in inputs.get("secret-env", "").splitlines():
        runner.mask(line.partition("=")[2])
    for line in inputs.get("secrets-toml", "").splitlines():  # each value, and each whole line
        runner.mask(line.partition("=")[2].strip().strip("\"'"))
        runner.mask(line)


def _carry_out(
    runner: Runner, backend: Backend, settings: Settings, reporter: PullRequestReporter,
    github: GitHub | None,
) -> Environment:  # fmt: skip
    """The decided mode, reported to the pull request as it goes."""
    if settings.mode == "close":
        closed = lifecycle.close_pull_request(backend, settings, runner.info)
        reporter.closed(closed[0])
        for other in closed[1:]:  # the pull request's other named previews
            each = replace(settings, environment=other.environment, name=other.name)
            _reporter(runner, github, each).closed(other)
        return closed[0]
    reporter.started(settings.target.sha)
    verb = lifecycle.open_environment if settings.mode == "open" else lifecycle.sync_environment
    try:
        env = verb(backend, settings, runner.info)
    except PreviewError as exc:
        reporter.failed(str(exc), commit=settings.target.sha)
        raise
    reporter.succeeded(env)
    return env


def _reporter(runner: Runner, github: GitHub | None, settings: Settings) -> PullRequestReporter:
    return PullRequestReporter(
        github=github, environment=settings.environment, pr=settings.target.pr,
        name=settings.name, url=settings.url, comment=settings.comment,
        deployment=settings.deployment, log_url=runner.run_url,
        warn=lambda line: runner.warning(line, title="streamlit-preview"),
    )  # fmt: skip


def _ask_for_approval(
    runner: Runner, settings: Settings, decision: AskApproval, github: GitHub
) -> None:
    """New commits from a fork: the label comes off, and the comment says why."""
    github.remove_label(settings.target.pr, decision.label)
    if settings.comment:
        github.upsert_comment(settings.target.pr, Report(
            environment=settings.environment, state=CommentState.WAITING, url=settings.url,
            commit=None, log_url=runner.run_url,
            detail=f"New commits were pushed from the fork: someone with write access must add the "
                   f"`{decision.label}` label again to preview them. The preview keeps the approved commit.",
        ))  # fmt: skip
    runner.notice(
        f"new commits from the fork need a new '{decision.label}' label", title="streamlit-preview"
    )


def _check_approver(settings: Settings, login: str, github: GitHub) -> None:
    """The approval label counts only from someone with write access."""
    if not login or not github.can_write(login):
        raise ServiceError(
            f"approve-label: '{settings.approve_label}' was added by @{login or 'someone'}, who has "
            f"no write access to {settings.target.repository}; the fork is not previewed"
        )


def _closed_since(runner: Runner, settings: Settings, github: GitHub) -> bool:
    """Whether GitHub says the pull request is closed, whatever the event said: a `synchronize`
    run can start after the `closed` run deleted the preview, and must not bring it back. When
    GitHub cannot be asked, a warning, and the event is trusted."""
    try:
        return not github.pull_request_is_open(settings.target.pr)
    except ServiceError as exc:
        runner.warning(f"could not ask GitHub whether the pull request is open: {exc}",
                       title="streamlit-preview")  # fmt: skip
        return False


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
