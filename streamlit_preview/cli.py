"""The `streamlit-preview` command: the action's lifecycle outside GitHub, and the demo.

Flags mirror the action's inputs one to one (same names, defaults and validation). Human
progress goes to stderr; stdout carries the URL, or one JSON document with `--json`.
Exit status: 0 success, 2 bad input (one line naming it), 1 a failure with its reason.
Secrets never go on the command line: `--secret-env` and `--kubeconfig` name files, the
GitHub token comes from `GITHUB_TOKEN`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import inputs, lifecycle
from .argparsing import OneLineParser
from .config import Settings, build_settings, make_target
from .environment import Backend, Environment, Status
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, InputError, PreviewError
from .inputs import DEFAULTS, Flag
from .naming import github_full_name
from .versions import version_line

if TYPE_CHECKING:
    from .github import AppInstallationTokens

BACKEND_HELP = (
    "where environments run (default: kubernetes when --namespace or --kubeconfig is given, "
    "else local)"
)
NAMESPACES_HELP = "Kubernetes namespace, or several separated by commas (default: previews)"
KUBECONFIG_HELP = inputs.BY_NAME["kubeconfig"].help


def _add_input_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per input of `inputs.INPUTS` that the command line takes."""
    for row in inputs.FLAGS:
        suffix = f" (default: {row.default})" if row.default else ""
        dest = row.name.replace("-", "_")
        if row.flag is Flag.LINES:
            parser.add_argument(row.option, action="append", default=[], help=row.help)
        elif row.flag is Flag.FILE:
            parser.add_argument(row.option, dest=dest, metavar="PATH", help=row.help)
        else:
            parser.add_argument(row.option, *row.aliases, dest=dest, help=row.help + suffix)


def _add_target_flags(
    parser: argparse.ArgumentParser, *, branch_required: bool, with_sha: bool = True
) -> None:
    parser.add_argument("--backend", choices=("local", "kubernetes"),
                        help=BACKEND_HELP)  # fmt: skip
    parser.add_argument("--repo", required=True, help="git URL or local path of the repository")
    if with_sha:
        branch_help = "branch to follow" + (
            "" if branch_required else " (needed when the environment does not exist yet)"
        )
        parser.add_argument("--branch", required=branch_required, help=branch_help)
    parser.add_argument("--pr", required=True, help="pull request number")
    if with_sha:
        parser.add_argument("--sha", help="commit to bring the environment to (40 hex)")
    parser.add_argument("--repository", help="owner/name used for naming, for a --repo that is "
                        "not a GitHub URL (default: owner/name of a GitHub --repo)")  # fmt: skip
    _add_common(parser)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--state-dir", type=Path, help="local backend state (default: $XDG_STATE_HOME/streamlit-preview)")  # fmt: skip


def _add_lifecycle(commands: Any) -> None:
    for verb, help_text in (
        ("open", "Create or update the environment of a pull request and wait until it serves."),
        ("sync", "Bring the environment to the branch head; a missing one is opened, which "
                 "needs --branch."),
        ("render", "Print the Kubernetes manifests that `open` would apply, and apply nothing."),
    ):  # fmt: skip
        sub = commands.add_parser(verb, help=help_text, description=help_text)
        _add_target_flags(sub, branch_required=verb in ("open", "render"))
        _add_input_flags(sub)


def _add_close(commands: Any) -> None:
    help_text = (
        "Delete the environment of a pull request; succeeds, and says so, when it is not there."
    )
    close = commands.add_parser("close", help=help_text, description=help_text)
    _add_target_flags(close, branch_required=False, with_sha=False)
    namespace = inputs.BY_NAME["namespace"]
    close.add_argument("--namespace", help=f"{namespace.help} (default: {namespace.default})")
    close.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    close.add_argument(
        "--name",
        help=inputs.BY_NAME["name"].help + "; without it, every preview of the pull request closes",
    )


def _add_list(commands: Any) -> None:
    help_text = "List every environment with its status, commit and URL."
    listing = commands.add_parser("list", help=help_text, description=help_text)
    listing.add_argument("--backend", choices=("local", "kubernetes"), help=BACKEND_HELP)
    listing.add_argument("--namespace", help="Kubernetes namespace (default: previews)")
    listing.add_argument("--kubeconfig", help="path of a kubeconfig")
    _add_common(listing)


def _add_gc(commands: Any) -> None:
    help_text = "Delete the Kubernetes environments whose ttl has passed."
    gc = commands.add_parser("gc", help=help_text, description=help_text)
    gc.add_argument("--backend", choices=("kubernetes",), default="kubernetes")
    gc.add_argument("--namespace", help=NAMESPACES_HELP)
    gc.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    gc.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    _add_common(gc)


def _add_demo(commands: Any) -> None:
    help_text = (
        "Open a local preview of the example app in a throw-away repository, in one command."
    )
    demo = commands.add_parser("demo", help=help_text, description=help_text)
    demo.add_argument("--once", action="store_true", help="open, push, sync, close, then exit")
    demo.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)


def _add_hook(commands: Any) -> None:
    help_text = "Receive GitHub push webhooks and sync the matching previews at once."
    hook = commands.add_parser("hook", help=help_text, description=help_text)
    for flag, required, flag_help in (
        ("--listen", True, "HOST:PORT to listen on, e.g. 0.0.0.0:8080"),
        ("--secret-file", True, "file holding the webhook secret set on GitHub"),
    ):
        hook.add_argument(flag, required=required, help=flag_help)
    hook.add_argument("--backend", choices=("local", "kubernetes"), help=BACKEND_HELP)
    hook.add_argument("--namespace", help=NAMESPACES_HELP)
    hook.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    hook.add_argument("--state-dir", type=Path,
                      help="local backend state (default: $XDG_STATE_HOME/streamlit-preview)")  # fmt: skip
    for flag, flag_help in (
        ("--git-token-file", "a lasting read-only token for private repositories"),
        ("--github-app-id", "a GitHub App whose installation tokens clone private repositories"),
        ("--github-app-key-file", "the App's private key (PEM)"),
        ("--github-app-installation-id", "the App's installation on your repositories"),
        ("--sleep-check", "how often to look for previews to put to sleep (their `sleep-after`): "
                          "a duration, or never (default: 1m)"),
        ("--github-api-url", "GitHub's API (default: $GITHUB_API_URL, then https://api.github.com)"),
    ):  # fmt: skip
        hook.add_argument(flag, help=flag_help)
    hook.set_defaults(sleep_check="1m")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="streamlit-preview", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add in (_add_lifecycle, _add_close, _add_list, _add_gc, _add_demo, _add_hook):
        add(commands)
    commands.add_parser(
        "reload",
        help="Run the in-pod supervisor (the same as reloader.py); see reload --help.",
        add_help=False,
    )
    return parser


def _inputs_from(args: argparse.Namespace) -> dict[str, str]:
    """The flags as the action's inputs: lines joined, files read."""
    given: dict[str, str] = {}
    for row in inputs.FLAGS:
        value = getattr(args, row.name.replace("-", "_"), None)
        if row.flag is Flag.LINES:
            value = "\n".join(value or [])
        elif row.flag is Flag.FILE and value:
            value = _read_file(row.option, value)
        if value:
            given[row.name] = value
    return given


def _read_file(flag: str, path: str) -> str:
    """The content of the file `path` names. The value is never echoed: a user may have
    given the secret itself (a kubeconfig's content, as the action's input takes it)."""
    if "\n" in path or len(path) > 1024:
        raise InputError(
            flag, "expected the path of a file, got what looks like its content (not shown)"
        )
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise InputError(
            flag, f"expected the path of a readable file; cannot read it ({exc.strerror})"
        ) from None


def _flag(name: str) -> str:
    """The flag that takes input `name`, for error messages."""
    row = inputs.BY_NAME.get(name)
    return row.option if row else f"--{name}"


def resolve_backend(args: argparse.Namespace) -> None:
    """`--namespace` or `--kubeconfig` mean Kubernetes; with `--backend local` they are an
    error, never silently ignored (a close that says "was not there" would be a lie)."""
    if not hasattr(args, "backend"):
        return
    given = [f for f in ("namespace", "kubeconfig", "cluster_url") if getattr(args, f, None)]
    if args.backend is None:
        args.backend = "kubernetes" if given else "local"
    elif args.backend == "local" and given:
        raise InputError(
            f"--{given[0].replace('_', '-')}",
            "is for the kubernetes backend; drop it or --backend local",
        )


def settings_from(args: argparse.Namespace, mode: str) -> Settings:
    repo = args.repo
    if "://" not in repo and Path(repo).exists():
        repo = str(Path(repo).absolute())
    target = make_target(
        repository=args.repository or github_full_name(repo, os.environ.get("GITHUB_SERVER_URL")) or repo, repo_url=repo, branch=getattr(args, "branch", None) or "",
        pr=args.pr, sha=getattr(args, "sha", None), label=_flag,
    )  # fmt: skip
    # render prints Kubernetes manifests, so it checks them as a Kubernetes open does;
    # close deletes by label and needs no route.
    # sync of an existing preview reads its host from the preview itself.
    needs_route = (args.backend == "kubernetes" and mode == "open") or args.command == "render"
    inputs = _inputs_from(args) | {"mode": mode}
    kubeconfig, renew = None, None
    if args.backend == "kubernetes":  # the cluster's credential, and its defaults
        from .backends.kubernetes import cluster_credential, with_defaults_of

        kubeconfig, renew = cluster_credential(inputs, os.environ, mask=lambda _: None, label=_flag)
        inputs = with_defaults_of(inputs, kubeconfig, renew)
    settings = build_settings(
        inputs, target, label=_flag,
        needs_route=needs_route, git_token=os.environ.get("GITHUB_TOKEN") or None,
    )  # fmt: skip
    return replace(settings, kubeconfig=kubeconfig, token_renewal=renew)


def make_backend(args: argparse.Namespace, settings: Settings | None = None) -> Backend:
    if args.backend == "kubernetes":
        from .backends.kubernetes import KubernetesBackend

        kubeconfig = settings.kubeconfig if settings else None
        namespace = settings.namespace if settings else (args.namespace or DEFAULTS["namespace"])
        if settings is None and args.kubeconfig:
            kubeconfig = inputs.parse_kubeconfig(
                "--kubeconfig", _read_file("--kubeconfig", args.kubeconfig)
            )
        namespaces = [n.strip() for n in namespace.split(",") if n.strip()]
        if len(namespaces) > 1 and settings is None:  # the receiver or the cleanup, chart-wide
            from .backends.namespaces import AcrossNamespaces

            return AcrossNamespaces({
                each: KubernetesBackend.connect(kubeconfig=kubeconfig, namespace=each)
                for each in namespaces
            })  # fmt: skip
        renew = settings.token_renewal if settings else None
        return KubernetesBackend.connect(kubeconfig=kubeconfig, namespace=namespace, renew=renew)
    from .backends.local import LocalBackend

    return LocalBackend(args.state_dir)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _print_result(result: Environment | list[Environment], as_json: bool) -> None:
    if as_json:
        data = [e.as_dict() for e in result] if isinstance(result, list) else result.as_dict()
        print(json.dumps(data, indent=2))
    elif isinstance(result, list):
        if not result:
            _say("no environments")
            return
        now = datetime.now(UTC)
        print(f"{'ENVIRONMENT':<40} {'STATUS':<9} {'COMMIT':<12} {'AGE':<6} {'SYNCED':<8} URL")
        for env in result:
            commit = (env.commit or "")[:12] or "-"
            age, synced = _ago(env.created_at, now), _ago(env.synced_at, now)
            print(f"{env.environment:<40} {env.status:<9} {commit:<12} {age:<6} {synced:<8} "
                  f"{env.url or '-'}")  # fmt: skip
    elif result.url and result.status not in (Status.CLOSED, Status.MISSING):
        print(result.url)


def _ago(when: datetime | None, now: datetime) -> str:
    """How long ago: `45s`, `12m`, `3h`, `2d`, as kubectl prints ages; `-` when unknown."""
    if when is None:
        return "-"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def run(argv: Sequence[str]) -> int:
    argv = list(argv)
    if argv[:1] == ["reload"]:
        from .reloader.main import main as reload_main

        return reload_main(argv[1:])
    args = build_parser().parse_args(argv)
    resolve_backend(args)
    return _COMMANDS[args.command](args)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(once=args.once, state_dir=args.state_dir, say=_say)


def _run_list(args: argparse.Namespace) -> int:
    backend = make_backend(args)
    found = lifecycle.list_environments(backend)
    if args.backend == "kubernetes":
        from .backends.kubernetes import KubernetesBackend

        if isinstance(backend, KubernetesBackend):  # the page's state, as the local list has it
            found = backend.with_page_states(found)
    _print_result(found, args.json)
    return 0


def _run_gc(args: argparse.Namespace) -> int:
    from .backends.kubernetes import KubernetesBackend

    now = datetime.now(UTC)
    expired: list[Environment] = []
    for namespace in (args.namespace or DEFAULTS["namespace"]).split(","):
        backend = make_backend(argparse.Namespace(**vars(args) | {"namespace": namespace}))
        if not isinstance(backend, KubernetesBackend):  # gc reads Kubernetes' expires-at
            raise InputError("--backend", "gc works on the kubernetes backend only")
        expired += backend.collect_expired(now=now, dry_run=args.dry_run, progress=_say)
    if not expired:
        _say("nothing has expired")
    elif not args.dry_run:
        _report_expired(expired)
    if args.json:
        _print_result(expired, True)
    return 0


def _run_render(args: argparse.Namespace) -> int:
    from .render import render_manifests, to_yaml

    settings = settings_from(args, "open")
    manifests = render_manifests(settings, webhook_key="<generated at open>")
    if args.json:
        print(json.dumps(manifests, indent=2))
    else:
        print(to_yaml(manifests), end="")
    return 0


def _run_close(args: argparse.Namespace) -> int:
    settings = settings_from(args, "close")
    closed = lifecycle.close_pull_request(make_backend(args, settings), settings, _say)
    _print_result(closed[0], args.json)
    return 0


def _run_open_or_sync(args: argparse.Namespace) -> int:
    settings = settings_from(args, args.command)
    verb = {"open": lifecycle.open_environment, "sync": lifecycle.sync_environment}[args.command]
    result = verb(make_backend(args, settings), settings, _say)
    _print_result(result, args.json)
    if result.status is Status.APP_ERROR:  # the preview runs; the page shows an exception
        _say(result.app_error or "app error")
        return EXIT_FAILURE
    return 0


def _report_expired(expired: list[Environment]) -> None:
    """Tell each deleted preview's pull request, when a token allows (GITHUB_TOKEN)."""
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        _say("GITHUB_TOKEN is not set: the pull requests' comments still show the previews")
        return
    from .github import GitHub
    from .reporting import PullRequestReporter

    api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    for env in expired:
        if not env.repository or "/" not in env.repository or env.pr is None:
            continue
        github = GitHub(token=token, repository=env.repository, api_url=api_url)
        when = f"{env.expires_at:%Y-%m-%d %H:%M} UTC" if env.expires_at else "its ttl"
        reporter = PullRequestReporter(
            github=github, environment=env.environment, pr=env.pr, name=env.name, url=None,
            comment=True, deployment=True, log_url=None,
            warn=_say,
        )  # fmt: skip
        reporter.closed(replace(env, url=None, commit=None), detail=(
            f"The preview was deleted: nothing had synced it since its ttl passed ({when}). "
            "A push or a re-run of the workflow opens it again."))  # fmt: skip


def _app_tokens(args: argparse.Namespace) -> AppInstallationTokens | None:
    """The GitHub App flags: all three, or none."""
    from .github import AppInstallationTokens

    given = {"--github-app-id": args.github_app_id, "--github-app-key-file": args.github_app_key_file,
             "--github-app-installation-id": args.github_app_installation_id}  # fmt: skip
    if not any(given.values()):
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise InputError(missing[0], "required with the other --github-app-* flags")
    if args.git_token_file:
        raise InputError("--git-token-file", "give a token file or a GitHub App, not both")
    for flag in ("--github-app-id", "--github-app-installation-id"):
        if not str(given[flag]).isdigit():
            raise InputError(flag, f"expected a number, got {given[flag]!r}")
    key = _read_file("--github-app-key-file", args.github_app_key_file)
    if "PRIVATE KEY" not in key:
        raise InputError("--github-app-key-file", "expected the App's private key (PEM)")
    api_url = args.github_api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    return AppInstallationTokens(app_id=args.github_app_id, private_key=key,
                                 installation_id=args.github_app_installation_id, api_url=api_url)  # fmt: skip


def _run_hook(args: argparse.Namespace) -> int:
    from .hook import Receiver, serve

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("--listen", f"expected HOST:PORT, got {args.listen!r}")
    secret = _read_file("--secret-file", args.secret_file).strip()
    if not secret:
        raise InputError(
            "--secret-file", f"{args.secret_file} is empty: put the webhook secret in it"
        )
    token_file = Path(args.git_token_file) if args.git_token_file else None
    if token_file is not None:
        _read_file("--git-token-file", args.git_token_file)  # readable now, read at each push
    api_url = args.github_api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    receiver = Receiver(secret.encode(), make_backend(args), git_token_file=token_file,
                        app_tokens=_app_tokens(args), api_url=api_url)  # fmt: skip
    from . import validation as check

    sleep_check = check.sleep_after("--sleep-check", args.sleep_check)
    _say(f"receiving GitHub webhooks on http://{args.listen}/ ({args.backend} backend)")
    serve(receiver, host=host.strip("[]"), port=int(port),
          sleep_check=float(sleep_check) if sleep_check and args.backend == "kubernetes" else None)  # fmt: skip
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "open": _run_open_or_sync,
    "sync": _run_open_or_sync,
    "render": _run_render,
    "close": _run_close,
    "list": _run_list,
    "gc": _run_gc,
    "demo": _run_demo,
    "hook": _run_hook,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PreviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
