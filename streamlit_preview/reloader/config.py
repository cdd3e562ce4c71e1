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
from . import contract

N = contract.env_name  # the variable a message names

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
    """The reloader's flags, from the contract's table; each defaults to its variable."""
    parser = OneLineParser(
        prog="streamlit-preview reload",
        description="Clone a branch, run Streamlit on it and follow the branch on signed /sync calls.",
    )
    for variable in contract.VARIABLES:
        if variable.flag is None:
            continue
        also = variable.name
        if also.endswith("_FILE"):  # the secret itself may be given in the variable too
            also = f"{also.removesuffix('_FILE')}[_FILE]"
        parser.add_argument(variable.flag, dest=variable.key, default=contract.read(environ, variable.key),
                            help=f"{variable.help} ({also})")  # fmt: skip
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> ReloaderSettings:
    """Parse flags over environment defaults; raise `InputError` naming the bad value."""
    args = build_parser(environ).parse_args(list(argv))
    if not args.repo:
        raise InputError(N("repo"), "required: a git URL, file:// URL or local path")
    if not args.branch:
        raise InputError(N("branch"), "required: the branch to follow")
    streamlit_port = _check_port(N("streamlit_port"), args.streamlit_port)
    if _check_port(N("control_port"), args.control_port) == streamlit_port:
        raise InputError(
            N("control_port"), f"must differ from {N('streamlit_port')} ({streamlit_port})"
        )
    return ReloaderSettings(
        repo=_check_repo(args.repo),
        branch=_check_branch(args.branch),
        app=_check_app(args.app),
        workdir=_check_workdir(args.workdir),
        webhook_secret=_read_secret(
            environ, N("webhook_secret"), args.webhook_secret_file, required=True
        ).encode(),
        git_token=_read_secret(environ, N("git_token"), args.git_token_file, required=False)
        or None,
        bind=args.bind,
        streamlit_port=_check_port(N("streamlit_port"), args.streamlit_port),
        control_port=_check_port(N("control_port"), args.control_port),
        public_url=_check_public_url(args.public_url),
        secrets_file=_check_secrets_file(args.secrets_file),
        setup=args.setup.strip() if args.setup and args.setup.strip() else None,
        setup_watch=tuple(g.strip() for g in args.setup_watch.splitlines() if g.strip()),
        pin=_check_pin(args.pin),
        check=validation.choice(N("check"), args.check, ("page", "none")),
        check_timeout=float(validation.duration(N("check_timeout"), args.check_timeout)),
        clear_cache=validation.choice(
            contract.env_name("clear_cache"), args.clear_cache, ("data", "all", "never")
        ),
        secret_env_names=tuple(
            n for n in (contract.read(environ, "secret_env_names") or "").split(",") if n
        ),
    )


def _check_repo(repo: str) -> str:
    if any(ch in repo for ch in "\n\r\0") or repo.startswith("-"):
        raise InputError(N("repo"), "expected a git URL, file:// URL or local path")
    parts = urlsplit(repo)
    if parts.password or (parts.username and parts.scheme in ("http", "https")):
        raise InputError(
            N("repo"), f"must not carry credentials; pass the token with {N('git_token_file')}"
        )
    return repo


def _check_branch(branch: str) -> str:
    return validation.branch(N("branch"), branch)


def _check_app(app: str) -> str:
    if not app or app.startswith("/") or "\0" in app:
        raise InputError(N("app"), "expected a relative path to a script inside the repository")
    normal = posixpath.normpath(app)
    if normal == ".." or normal.startswith("../") or normal == ".":
        raise InputError(N("app"), f"must stay inside the repository, got {app!r}")
    return normal


def _check_workdir(workdir: str) -> Path:
    path = Path(workdir).expanduser().absolute()
    for part in path.parts[1:]:
        if part.startswith(".") or part in UNWATCHED_NAMES:
            raise InputError(
                N("workdir"),
                f"{path} is under {part!r}, a folder Streamlit never watches for changes; "
                "choose a path without dot-folders, venv or site-packages",
            )
    if path.exists() and not path.is_dir():
        raise InputError(N("workdir"), f"{path} exists and is not a directory")
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
        raise InputError(N("pin"), "expected a full 40-hex commit id")
    return value.strip()


def _check_secrets_file(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise InputError(N("secrets_file"), "expected the path of a readable TOML file")
    return path


def _check_public_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(N("public_url"), f"expected an http(s) origin, got {url!r}")
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
    return {k: v for k, v in environ.items() if not k.startswith(contract.SECRET_PREFIXES)} | {
        "PYTHONUNBUFFERED": "1"
    }
