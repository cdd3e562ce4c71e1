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
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import lifecycle
from .argparsing import OneLineParser
from .config import DEFAULTS, Settings, build_settings, make_target
from .environment import Backend, Environment, Status
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, InputError, PreviewError
from .naming import github_full_name
from .versions import version_line

if TYPE_CHECKING:
    from .github import AppInstallationTokens

_INPUT_HELP = {
    "namespace": "Kubernetes namespace of the environments",
    "domain": "wildcard domain; the URL is https://<environment>.<domain>/",
    "app-path": "the Streamlit script inside the repository",
    "image": "image the preview pods run (default: the project's image for --python)",
    "python": "the app's Python: 3.11, 3.12 or 3.13 (picks the default image)",
    "image-pull-secret": "Secret in the namespace for pulling the image from a private registry",
    "tolerations": "key[=value]:Effect taint the preview tolerates (repeatable)",
    "secrets-toml": "file of TOML that st.secrets sees (never on the command line)",
    "name": "tells apart several previews of one pull request (one per app)",
    "data-size": "a PersistentVolumeClaim of this size at /data (PREVIEW_DATA_DIR), e.g. 20Gi",
    "data-storage-class": "storage class of the data volume (default: the cluster's)",
    "setup": "shell command run in the checkout after requirements, before Streamlit",
    "setup-watch": "glob: a sync that changes a matching file runs setup again (repeatable)",
    "router": "how traffic reaches the pod: istio, gateway-api, ingress or none",
    "gateway": "[namespace/]name of the Istio Gateway or Gateway API Gateway",
    "ingress-class": "IngressClass of the preview's Ingress (default: the cluster's default)",
    "access": "who may open it: org, org:NAME, team:ORG/SLUG, collaborators or public",
    "ephemeral-storage": "local disk the pod may use (request and limit)",
    "workspace-size": "size limit of the pod's /workspace and /tmp volumes",
    "check": "page: report what the page shows after every open and sync (exit 1 on an app error); none",
    "clear-cache": "what a sync that changes more than Python source drops: data (st.cache_data), all (and st.cache_resource), never",
    "check-timeout": "how long a run may take before the page counts as still running (e.g. 30s)",
    "env": "KEY=VALUE for the app (repeatable)",
    "secret-env": "file of KEY=VALUE lines, stored in a Secret (values never on the command line)",
    "cpu": "CPU request and limit (Kubernetes quantity)",
    "memory": "memory request and limit (Kubernetes quantity)",
    "gpu": "number of nvidia.com/gpu",
    "node-selector": "key=value node label (repeatable)",
    "ttl": "expiry written on every object (e.g. 7d; 0 for none)",
    "wait-timeout": "how long to wait for the environment to serve (e.g. 5m)",
    "webhook-url": "send sync to this public /sync URL instead of the API server's proxy",
    "kubeconfig": "path of a kubeconfig (default: in-cluster, then KUBECONFIG)",
    "cluster-url": "the API server's https URL: sign in with the job's GitHub OIDC token "
    "(ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN) instead of a kubeconfig",
    "cluster-ca": "path of the API server's CA certificate (PEM), with --cluster-url",
    "oidc-audience": "audience of the OIDC token, as the API server expects it",
    "sleep-after": "scale the preview to zero after this long without a viewer or a commit "
    "(e.g. 30m; never); it wakes on the next visit (default: the cluster's, else 30m)",
}
BACKEND_HELP = (
    "where environments run (default: kubernetes when --namespace or --kubeconfig is given, "
    "else local)"
)
_REPEATABLE = ("env", "node-selector", "tolerations", "setup-watch")


def _add_input_flags(parser: argparse.ArgumentParser) -> None:
    for name, help_text in _INPUT_HELP.items():
        default = DEFAULTS[name]
        suffix = f" (default: {default})" if default else ""
        if name in _REPEATABLE:
            parser.add_argument(f"--{name}", action="append", default=[], help=help_text)
        elif name == "app-path":
            parser.add_argument("--app-path", "--app", dest="app_path", help=help_text + suffix)
        elif name == "secrets-toml":
            parser.add_argument(
                "--secrets-toml-file", dest="secrets_toml", metavar="PATH", help=help_text
            )
        else:
            parser.add_argument(f"--{name}", help=help_text + suffix)


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="streamlit-preview", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for verb, help_text in (
        ("open", "Create or update the environment of a pull request and wait until it serves."),
        (
            "sync",
            "Bring the environment to the branch head; a missing one is opened, which needs --branch.",
        ),
        ("render", "Print the Kubernetes manifests that `open` would apply, and apply nothing."),
    ):
        sub = commands.add_parser(verb, help=help_text, description=help_text)
        _add_target_flags(sub, branch_required=verb in ("open", "render"))
        _add_input_flags(sub)
    close_help = (
        "Delete the environment of a pull request; succeeds, and says so, when it is not there."
    )
    close = commands.add_parser("close", help=close_help, description=close_help)
    _add_target_flags(close, branch_required=False, with_sha=False)
    close.add_argument(
        "--namespace", help=_INPUT_HELP["namespace"] + f" (default: {DEFAULTS['namespace']})"
    )
    close.add_argument("--kubeconfig", help=_INPUT_HELP["kubeconfig"])
    close.add_argument(
        "--name",
        help=_INPUT_HELP["name"] + "; without it, every preview of the pull request closes",
    )
    list_help = "List every environment with its status, commit and URL."
    listing = commands.add_parser("list", help=list_help, description=list_help)
    listing.add_argument("--backend", choices=("local", "kubernetes"), help=BACKEND_HELP)
    listing.add_argument("--namespace", help="Kubernetes namespace (default: previews)")
    listing.add_argument("--kubeconfig", help="path of a kubeconfig")
    _add_common(listing)
    gc_help = "Delete the Kubernetes environments whose ttl has passed."
    gc = commands.add_parser("gc", help=gc_help, description=gc_help)
    gc.add_argument("--backend", choices=("kubernetes",), default="kubernetes")
    gc.add_argument(
        "--namespace",
        help="Kubernetes namespace, or several separated by commas (default: previews)",
    )
    gc.add_argument(
        "--kubeconfig", help="path of a kubeconfig (default: in-cluster, then KUBECONFIG)"
    )
    gc.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    _add_common(gc)
    demo_help = (
        "Open a local preview of the example app in a throw-away repository, in one command."
    )
    demo = commands.add_parser("demo", help=demo_help, description=demo_help)
    demo.add_argument("--once", action="store_true", help="open, push, sync, close, then exit")
    demo.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    hook_help = "Receive GitHub push webhooks and sync the matching previews at once."
    hook = commands.add_parser("hook", help=hook_help, description=hook_help)
    hook.add_argument("--listen", required=True, help="HOST:PORT to listen on, e.g. 0.0.0.0:8080")
    hook.add_argument(
        "--secret-file", required=True, help="file holding the webhook secret set on GitHub"
    )
    hook.add_argument("--backend", choices=("local", "kubernetes"), help=BACKEND_HELP)
    hook.add_argument(
        "--namespace",
        help="Kubernetes namespace, or several separated by commas (default: previews)",
    )
    hook.add_argument(
        "--kubeconfig", help="path of a kubeconfig (default: in-cluster, then KUBECONFIG)"
    )
    hook.add_argument(
        "--state-dir",
        type=Path,
        help="local backend state (default: $XDG_STATE_HOME/streamlit-preview)",
    )
    hook.add_argument("--git-token-file", help="a lasting read-only token for private repositories")
    hook.add_argument(
        "--github-app-id", help="a GitHub App whose installation tokens clone private repositories"
    )
    hook.add_argument("--github-app-key-file", help="the App's private key (PEM)")
    hook.add_argument(
        "--github-app-installation-id", help="the App's installation on your repositories"
    )
    hook.add_argument(
        "--sleep-check",
        default="1m",
        help="how often to look for previews to put to sleep (their `sleep-after`): a duration, "
        "or never (default: 1m)",
    )
    hook.add_argument(
        "--github-api-url",
        help="GitHub's API (default: $GITHUB_API_URL, then https://api.github.com)",
    )
    commands.add_parser(
        "reload",
        help="Run the in-pod supervisor (the same as reloader.py); see reload --help.",
        add_help=False,
    )
    return parser


def _inputs_from(args: argparse.Namespace) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for name in _INPUT_HELP:
        value = getattr(args, name.replace("-", "_"), None)
        if name in _REPEATABLE:
            value = "\n".join(value or [])
        elif name == "secret-env" and value:
            value = _read_file("--secret-env", value)
        elif name == "secrets-toml" and value:
            value = _read_file("--secrets-toml-file", value)
        elif name in ("kubeconfig", "cluster-ca") and value:
            value = _read_file(f"--{name}", value)
        if value:
            inputs[name] = value
    return inputs


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
    return "--secrets-toml-file" if name == "secrets-toml" else f"--{name}"


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
            from .config import parse_kubeconfig

            kubeconfig = parse_kubeconfig(
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
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(once=args.once, state_dir=args.state_dir, say=_say)
    if args.command == "hook":
        return _run_hook(args)
    if args.command == "list":
        backend = make_backend(args)
        found = lifecycle.list_environments(backend)
        if args.backend == "kubernetes":
            from .backends.kubernetes import KubernetesBackend

            if isinstance(backend, KubernetesBackend):  # the page's state, as the local list has it
                found = backend.with_page_states(found)
        _print_result(found, args.json)
        return 0
    if args.command == "gc":
        from .backends.kubernetes import KubernetesBackend

        now = datetime.now(UTC)
        expired = []
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
    settings = settings_from(args, args.command if args.command != "render" else "open")
    if args.command == "render":
        from .render import render_manifests, to_yaml

        manifests = render_manifests(settings, webhook_key="<generated at open>")
        if args.json:
            print(json.dumps(manifests, indent=2))
        else:
            print(to_yaml(manifests), end="")
        return 0
    backend = make_backend(args, settings)
    if args.command == "close":
        closed = lifecycle.close_pull_request(backend, settings, _say)
        _print_result(closed[0], args.json)
        return 0
    verb = {"open": lifecycle.open_environment, "sync": lifecycle.sync_environment}[args.command]
    result = verb(backend, settings, _say)
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
