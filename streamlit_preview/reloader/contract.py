"""The reloader's contract: one row per `PREVIEW_*` variable, and the one place that writes them.

The reloader's parser (`config.build_parser`), the Deployment that `render` writes, the
local backend's child process and the tests' reloaders are all built from `VARIABLES` and
`environment()`, so the contract cannot drift between them. `test_contract.py` fails when a
`PREVIEW_` literal of this table appears anywhere else in the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings


PREFIX = "PREVIEW_"


@dataclass(frozen=True)
class Variable:
    """One `PREVIEW_*` variable: its flag (None: environment only), default and meaning."""

    key: str  # the keyword `environment()` takes, and the flag's dest
    flag: str | None
    default: str | None
    help: str

    @property
    def name(self) -> str:
        return PREFIX + self.key.upper()


VARIABLES = (
    Variable("repo", "--repo", None, "git URL, file:// URL or local path"),
    Variable("branch", "--branch", None, "branch to follow"),
    Variable("app", "--app", "streamlit_app.py", "script inside the repository"),
    Variable("workdir", "--workdir", "/workspace", "where the checkout lives"),
    Variable("webhook_secret", None, None, "the /sync HMAC key itself (prefer the _FILE)"),
    Variable("webhook_secret_file", "--webhook-secret-file", None, "file holding the /sync HMAC key"),
    Variable("git_token", None, None, "an HTTPS token for private repositories (prefer the _FILE)"),
    Variable("git_token_file", "--git-token-file", None, "file holding an HTTPS token for private repositories"),
    Variable("bind", "--bind", "0.0.0.0", "address for both ports"),
    Variable("streamlit_port", "--streamlit-port", "8501", "Streamlit's port"),
    Variable("control_port", "--control-port", "8080", "control endpoints' port"),
    Variable("public_url", "--public-url", None, "the preview's public origin, allowed for Streamlit's WebSocket"),
    Variable("secrets_file", "--secrets-file", None, "TOML file that st.secrets reads, kept outside the checkout"),
    Variable("setup", "--setup", None, "shell command run in the checkout after requirements, before Streamlit"),
    Variable("setup_watch", "--setup-watch", "", "glob lines: a sync changing a match runs setup again"),
    Variable("pin", "--pin", None, "serve exactly this commit and move only to commits a sync names"),
    Variable("check", "--check", "page", "page: open a session after every start and sync and report what the page shows; none"),
    Variable("check_timeout", "--check-timeout", "30", "seconds a run may take before the page counts as still running"),
    Variable("clear_cache", "--clear-cache", "data", "what a sync changing more than Python source drops: data, all or never"),
    Variable("secret_env_names", None, None, "names of the app's secret variables, whose values are redacted"),
    Variable("data_dir", None, None, "the data volume (`data-size`), for the app and `setup`"),
    Variable("termination_log", None, "/dev/termination-log", "where a failure no retry can fix is written"),
)  # fmt: skip
BY_KEY = {variable.key: variable for variable in VARIABLES}
ENV_NAMES = frozenset(variable.name for variable in VARIABLES)
SECRET_PREFIXES = (BY_KEY["webhook_secret"].name, BY_KEY["git_token"].name)


def env_name(key: str) -> str:
    """`PREVIEW_<KEY>` of a row of the table (a `KeyError` for a key it does not have)."""
    return BY_KEY[key].name


def read(environ: Mapping[str, str], key: str) -> str | None:
    """The variable's value in `environ`, or its default; empty counts as unset."""
    value = environ.get(env_name(key))
    return value if value not in (None, "") else BY_KEY[key].default


def environment(**values: str | int | None) -> dict[str, str]:
    """`PREVIEW_*` variables from keywords of the table (`repo=...`); None leaves one out."""
    unknown = set(values) - set(BY_KEY)
    if unknown:
        raise TypeError(f"not in the reloader's contract: {', '.join(sorted(unknown))}")
    return {env_name(key): str(value) for key, value in values.items() if value is not None}


def for_settings(settings: Settings, **place: str | int | None) -> dict[str, str]:
    """The whole environment of one preview's reloader: what the settings decide, plus
    `place` (where it runs: workdir, ports, bind, the secret files), the same for every
    backend."""
    app: dict[str, str | int | None] = {
        "repo": settings.target.repo_url,
        "branch": settings.target.branch,
        "app": settings.app_path,
        "public_url": settings.url.rstrip("/") if settings.url else None,
        "pin": settings.pin,
        "setup": settings.setup,
        "setup_watch": "\n".join(settings.setup_watch) if settings.setup_watch else None,
        "check": settings.check,
        "check_timeout": settings.check_timeout,
        "clear_cache": settings.clear_cache,
        # names only: the reloader redacts their values from what it reports
        "secret_env_names": ",".join(settings.secret_env) if settings.secret_env else None,
    }
    return environment(**(app | place))
