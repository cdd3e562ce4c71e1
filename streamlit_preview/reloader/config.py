"""Reloader settings from `PREVIEW_*` variables or flags; every bad value is one `InputError`.

Secrets are read from files or variables here and kept out of `repr`, argv and logs.
"""

from __future__ import annotations

import argparse
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .. import validation
from ..argparsing import OneLineParser
from ..errors import InputError
from ..signing import is_commit_sha

# Streamlit's default folder blacklist: modules under these are never reloaded.
UNWATCHED_NAMES = frozenset(
    {
        "anaconda", "anaconda2", "anaconda3", "dist-packages", "miniconda", "miniconda2",
        "miniconda3", "node_modules", "pyenv", "site-packages", "venv", "virtualenv", "htmlcov",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ReloaderSettings:
    """Everything the supervisor needs; built once by `parse_settings`."""

    repo: str
    branch: str
    app: str
    workdir: Path
    webhook_secret: bytes = field(repr=False)
    git_token: str | None = field(default=None, repr=False)
    bind: str = "0.0.0.0"
    streamlit_port: int = 8501
    control_port: int = 8080
    public_url: str | None = None
    secrets_file: Path | None = None  # handed to Streamlit as `secrets.files` (st.secrets)
    setup: str | None = None  # a shell command run in the checkout before Streamlit starts
    setup_watch: tuple[str, ...] = ()  # globs: a sync that changes a match runs setup again
    pin: str | None = None  # serve exactly this commit (fork previews); never follow the branch
    check: str = "page"  # page: look at the page after every start and sync; none: do not
    check_timeout: float = 30.0  # seconds a run may take before the page counts as "still running"
    clear_cache: str = "data"  # data | all | never: what a sync changing non-Python files drops
    secret_env_names: tuple[str, ...] = ()  # variables holding secret-env values: redacted

    @property
    def app_path(self) -> Path:
        return self.workdir / self.app


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value not in (None, "") else None


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The reloader's flags; each default comes from its `PREVIEW_*` variable."""
    parser = OneLineParser(
        prog="streamlit-preview reload",
        description="Clone a branch, run Streamlit on it and follow the branch on signed /sync calls.",
    )
    e = lambda name, default=None: _env(environ, name) or default  # noqa: E731
    parser.add_argument(
        "--repo",
        default=e("PREVIEW_REPO"),
        help="git URL, file:// URL or local path (PREVIEW_REPO)",
    )
    parser.add_argument(
        "--branch", default=e("PREVIEW_BRANCH"), help="branch to follow (PREVIEW_BRANCH)"
    )
    parser.add_argument(
        "--app",
        default=e("PREVIEW_APP", "streamlit_app.py"),
        help="script inside the repository (PREVIEW_APP)",
    )
    parser.add_argument(
        "--workdir",
        default=e("PREVIEW_WORKDIR", "/workspace"),
        help="where the checkout lives (PREVIEW_WORKDIR)",
    )
    parser.add_argument(
        "--webhook-secret-file",
        default=e("PREVIEW_WEBHOOK_SECRET_FILE"),
        help="file holding the /sync HMAC key (PREVIEW_WEBHOOK_SECRET[_FILE])",
    )
    parser.add_argument(
        "--git-token-file",
        default=e("PREVIEW_GIT_TOKEN_FILE"),
        help="file holding an HTTPS token for private repositories (PREVIEW_GIT_TOKEN[_FILE])",
    )
    parser.add_argument(
        "--bind", default=e("PREVIEW_BIND", "0.0.0.0"), help="address for both ports (PREVIEW_BIND)"
    )
    parser.add_argument(
        "--streamlit-port",
        default=e("PREVIEW_STREAMLIT_PORT", "8501"),
        help="Streamlit's port (PREVIEW_STREAMLIT_PORT)",
    )
    parser.add_argument(
        "--control-port",
        default=e("PREVIEW_CONTROL_PORT", "8080"),
        help="control endpoints' port (PREVIEW_CONTROL_PORT)",
    )
    parser.add_argument(
        "--public-url",
        default=e("PREVIEW_PUBLIC_URL"),
        help="the preview's public origin, allowed for Streamlit's WebSocket (PREVIEW_PUBLIC_URL)",
    )
    parser.add_argument(
        "--secrets-file",
        default=e("PREVIEW_SECRETS_FILE"),
        help="TOML file that st.secrets reads, kept outside the checkout (PREVIEW_SECRETS_FILE)",
    )
    parser.add_argument(
        "--setup",
        default=e("PREVIEW_SETUP"),
        help="shell command run in the checkout after requirements, before Streamlit (PREVIEW_SETUP)",
    )
    parser.add_argument(
        "--setup-watch",
        default=e("PREVIEW_SETUP_WATCH", ""),
        help="glob lines: a sync changing a match runs setup again (PREVIEW_SETUP_WATCH)",
    )
    parser.add_argument(
        "--pin",
        default=e("PREVIEW_PIN"),
        help="serve exactly this commit and move only to commits a sync names (PREVIEW_PIN)",
    )
    parser.add_argument(
        "--check",
        default=e("PREVIEW_CHECK", "page"),
        help="page: open a session after every start and sync and report what the page shows; none (PREVIEW_CHECK)",
    )
    parser.add_argument(
        "--check-timeout",
        default=e("PREVIEW_CHECK_TIMEOUT", "30"),
        help="seconds a run may take before the page counts as still running (PREVIEW_CHECK_TIMEOUT)",
    )
    parser.add_argument(
        "--clear-cache",
        default=e("PREVIEW_CLEAR_CACHE", "data"),
        help="what a sync changing more than Python source drops: data, all or never (PREVIEW_CLEAR_CACHE)",
    )
    return parser  # fmt: skip


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> ReloaderSettings:
    """Parse flags over environment defaults; raise `InputError` naming the bad value."""
    args = build_parser(environ).parse_args(list(argv))
    if not args.repo:
        raise InputError("PREVIEW_REPO", "required: a git URL, file:// URL or local path")
    if not args.branch:
        raise InputError("PREVIEW_BRANCH", "required: the branch to follow")
    streamlit_port = _check_port("PREVIEW_STREAMLIT_PORT", args.streamlit_port)
    if _check_port("PREVIEW_CONTROL_PORT", args.control_port) == streamlit_port:
        raise InputError(
            "PREVIEW_CONTROL_PORT", f"must differ from PREVIEW_STREAMLIT_PORT ({streamlit_port})"
        )
    return ReloaderSettings(
        repo=_check_repo(args.repo),
        branch=_check_branch(args.branch),
        app=_check_app(args.app),
        workdir=_check_workdir(args.workdir),
        webhook_secret=_read_secret(
            environ, "PREVIEW_WEBHOOK_SECRET", args.webhook_secret_file, required=True
        ).encode(),
        git_token=_read_secret(environ, "PREVIEW_GIT_TOKEN", args.git_token_file, required=False)
        or None,
        bind=args.bind,
        streamlit_port=_check_port("PREVIEW_STREAMLIT_PORT", args.streamlit_port),
        control_port=_check_port("PREVIEW_CONTROL_PORT", args.control_port),
        public_url=_check_public_url(args.public_url),
        secrets_file=_check_secrets_file(args.secrets_file),
        setup=args.setup.strip() if args.setup and args.setup.strip() else None,
        setup_watch=tuple(g.strip() for g in args.setup_watch.splitlines() if g.strip()),
        pin=_check_pin(args.pin),
        check=validation.choice("PREVIEW_CHECK", args.check, ("page", "none")),
        check_timeout=float(validation.duration("PREVIEW_CHECK_TIMEOUT", args.check_timeout)),
        clear_cache=validation.choice(
            "PREVIEW_CLEAR_CACHE", args.clear_cache, ("data", "all", "never")
        ),
        secret_env_names=tuple(
            n for n in (environ.get("PREVIEW_SECRET_ENV_NAMES") or "").split(",") if n
        ),
    )


def _check_repo(repo: str) -> str:
    if any(ch in repo for ch in "\n\r\0") or repo.startswith("-"):
        raise InputError("PREVIEW_REPO", "expected a git URL, file:// URL or local path")
    parts = urlsplit(repo)
    if parts.password or (parts.username and parts.scheme in ("http", "https")):
        raise InputError(
            "PREVIEW_REPO", "must not carry credentials; pass the token with PREVIEW_GIT_TOKEN_FILE"
        )
    return repo


def _check_branch(branch: str) -> str:
    return validation.branch("PREVIEW_BRANCH", branch)


def _check_app(app: str) -> str:
    if not app or app.startswith("/") or "\0" in app:
        raise InputError(
            "PREVIEW_APP", "expected a relative path to a script inside the repository"
        )
    normal = posixpath.normpath(app)
    if normal == ".." or normal.startswith("../") or normal == ".":
        raise InputError("PREVIEW_APP", f"must stay inside the repository, got {app!r}")
    return normal


def _check_workdir(workdir: str) -> Path:
    path = Path(workdir).expanduser().absolute()
    for part in path.parts[1:]:
        if part.startswith(".") or part in UNWATCHED_NAMES:
            raise InputError(
                "PREVIEW_WORKDIR",
                f"{path} is under {part!r}, a folder Streamlit never watches for changes; "
                "choose a path without dot-folders, venv or site-packages",
            )
    if path.exists() and not path.is_dir():
        raise InputError("PREVIEW_WORKDIR", f"{path} exists and is not a directory")
    return path


def _check_port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise InputError(name, f"expected a port number 1-65535, got {value!r}") from None
    if not 0 < port < 65536:
        raise InputError(name, f"expected a port number 1-65535, got {value!r}")
    return port


def _check_pin(value: str | None) -> str | None:
    if value is None:
        return None
    if not is_commit_sha(value.strip()):
        raise InputError("PREVIEW_PIN", "expected a full 40-hex commit id")
    return value.strip()


def _check_secrets_file(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise InputError("PREVIEW_SECRETS_FILE", "expected the path of a readable TOML file")
    return path


def _check_public_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError("PREVIEW_PUBLIC_URL", f"expected an http(s) origin, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _read_secret(
    environ: Mapping[str, str], variable: str, file_flag: str | None, *, required: bool
) -> str:
    path = file_flag or _env(environ, f"{variable}_FILE")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise InputError(f"{variable}_FILE", f"cannot read {path}: {exc.strerror}") from None
        if not value:
            raise InputError(f"{variable}_FILE", f"{path} is empty")
        return value
    value = (_env(environ, variable) or "").strip()
    if required and not value:
        raise InputError(variable, f"required: set {variable} or {variable}_FILE")
    return value


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for Streamlit and installs: ours minus every secret we were given."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(("PREVIEW_WEBHOOK_SECRET", "PREVIEW_GIT_TOKEN"))
    } | {"PYTHONUNBUFFERED": "1"}
