"""The inputs' contract: one row per input of the action and flag of the command line.

Each row says the input's name, default, how its text becomes a `Settings` field, and how the
command line takes it. `config.build_settings` parses by this table, the CLI builds its flags
and help from it, and `action.yml` states the same defaults (a test keeps them equal), so an
input cannot mean one thing in the action and another on the command line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from . import routers
from . import validation as check
from .access import parse_access
from .errors import InputError

MODES = ("open", "sync", "close", "auto")
PYTHONS = ("3.11", "3.12", "3.13")
CLEAR_CACHE_MODES = ("data", "all", "never")
SLEEP_AFTER_FALLBACK = "30m"  # when neither the input nor the cluster says

Parse = Callable[[str, str], Any]  # (the input's name in messages, its text) -> the field


class Flag(enum.Enum):
    """How the command line takes an input."""

    VALUE = "value"  # --name VALUE
    LINES = "lines"  # --name A --name B: one line each
    FILE = "file"  # --name PATH: the file's content, so secrets stay off the command line
    ACTION_ONLY = "action only"  # no flag (the mode is the command's verb)


@dataclass(frozen=True)
class Input:
    """One input: its default, its parser and its flag."""

    name: str
    default: str
    parse: Parse
    help: str  # the command line's; action.yml has the action's own words
    flag: Flag = Flag.VALUE
    optional: bool = False  # empty means None, and is not parsed
    keep_spaces: bool = False  # the text is used as given (values may end in spaces)
    field: str = ""  # the Settings field (default: the name with underscores)
    flag_name: str = ""  # the flag (default: --name)
    aliases: tuple[str, ...] = ()

    @property
    def settings_field(self) -> str:
        return self.field or self.name.replace("-", "_")

    @property
    def option(self) -> str:
        return self.flag_name or f"--{self.name}"

    def text(self, inputs: Mapping[str, str]) -> str:
        """The input's text in `inputs`, or its default; spaces cut unless `keep_spaces`."""
        given = inputs.get(self.name) or ""
        if self.keep_spaces:
            return given or self.default
        return given.strip() or self.default

    def value(self, inputs: Mapping[str, str], label: Callable[[str], str]) -> Any:
        text = self.text(inputs)
        if self.optional and not text.strip():
            return None
        return self.parse(label(self.name), text)


def _choice(options: tuple[str, ...]) -> Parse:
    return lambda name, value: check.choice(name, value, options)


def _gateway(name: str, value: str) -> str:
    for part in value.split("/", 1):
        check.dns_label(name, part)
    return value


def _app_path(name: str, value: str) -> str:
    check.no_control(name, value)
    if value.startswith("/") or ".." in value.split("/"):
        raise InputError(name, f"expected a path inside the repository, got {value!r}")
    return value


def _image(name: str, value: str) -> str:
    if not value.isprintable() or any(ch.isspace() for ch in value) or value.startswith("-"):
        raise InputError(
            name, f"expected an image reference such as ghcr.io/o/i:tag, got {value!r}"
        )
    return value


def _globs(name: str, value: str) -> tuple[str, ...]:
    return tuple(check.no_control(name, g.strip()) for g in value.splitlines() if g.strip())


def _sleep_after(name: str, value: str) -> int | None:
    return check.sleep_after(name, value or SLEEP_AFTER_FALLBACK)


def parse_kubeconfig(name: str, text: str) -> dict:
    """A kubeconfig given as YAML or as base64 of YAML (how most secrets store it)."""
    candidates = [text]
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
        candidates.append(base64.b64decode(text, validate=False).decode())
    for candidate in candidates:
        try:
            data = yaml.safe_load(candidate)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and data.get("clusters") and data.get("contexts"):
            return data
    raise InputError(name, "expected a kubeconfig (YAML or base64) with clusters and contexts")


def _ttl(name: str, value: str) -> int:
    return check.duration(name, value, allow_zero=True)


def _lines(name: str, default: str, parse: Parse, help: str) -> Input:
    return Input(name, default, parse, help, flag=Flag.LINES)


def _secret_file(
    name: str, parse: Parse, help: str, *, optional: bool = True, **more: Any
) -> Input:
    return Input(name, "", parse, help, flag=Flag.FILE, optional=optional, **more)


# In action.yml's order, which is also the order of the flags' help and of the checks: an
# input's own error comes before any that needs two inputs.
INPUTS = (
    Input("mode", "auto", _choice(MODES), "", flag=Flag.ACTION_ONLY),
    _secret_file("kubeconfig", parse_kubeconfig,
                 "path of a kubeconfig (default: in-cluster, then KUBECONFIG)"),
    Input("cluster-url", "", check.api_server_url,
          "the API server's https URL: sign in with the job's GitHub OIDC token "
          "(ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN) instead of a kubeconfig", optional=True),
    _secret_file("cluster-ca", check.ca_pem,
                 "path of the API server's CA certificate (PEM), with --cluster-url"),
    Input("sleep-after", "", _sleep_after,
          "scale the preview to zero after this long without a viewer or a commit (e.g. 30m; "
          "never); it wakes on the next visit (default: the cluster's, else 30m)"),
    Input("oidc-audience", "streamlit-preview", check.audience,
          "audience of the OIDC token, as the API server expects it"),
    Input("namespace", "previews", check.dns_label, "Kubernetes namespace of the environments"),
    Input("domain", "", check.domain, "wildcard domain; the URL is https://<environment>.<domain>/",
          optional=True),
    Input("app-path", "streamlit_app.py", _app_path, "the Streamlit script inside the repository",
          aliases=("--app",)),
    Input("image", "", _image,
          "image the preview pods run (default: the project's image for --python)", optional=True),
    Input("python", "3.12", _choice(PYTHONS),
          "the app's Python: 3.11, 3.12 or 3.13 (picks the default image)"),
    Input("image-pull-secret", "", check.dns_subdomain,
          "Secret in the namespace for pulling the image from a private registry", optional=True),
    Input("router", "gateway-api", _choice(routers.NAMES),
          "how traffic reaches the pod: istio, gateway-api, ingress or none"),
    Input("gateway", "preview-gateway", _gateway,
          "[namespace/]name of the Istio Gateway or Gateway API Gateway"),
    Input("ingress-class", "", check.dns_subdomain,
          "IngressClass of the preview's Ingress (default: the cluster's default)", optional=True),
    Input("access", "", parse_access,
          "who may open it: org, org:NAME, team:ORG/SLUG, collaborators or public"),
    Input("ephemeral-storage", "2Gi", check.quantity,
          "local disk the pod may use (request and limit)"),
    Input("check", "page", _choice(("page", "none")),
          "page: report what the page shows after every open and sync (exit 1 on an app "
          "error); none"),
    Input("clear-cache", "data", _choice(CLEAR_CACHE_MODES),
          "what a sync that changes more than Python source drops: data (st.cache_data), all "
          "(and st.cache_resource), never"),
    Input("check-timeout", "30s", check.duration,
          "how long a run may take before the page counts as still running (e.g. 30s)"),
    Input("workspace-size", "1Gi", check.quantity,
          "size limit of the pod's /workspace and /tmp volumes"),
    Input("env", "", check.env_lines, "KEY=VALUE for the app (repeatable)", flag=Flag.LINES,
          keep_spaces=True),
    _secret_file("secret-env", check.env_lines,
                 "file of KEY=VALUE lines, stored in a Secret (values never on the command line)",
                 optional=False, keep_spaces=True),
    Input("name", "", check.preview_name,
          "tells apart several previews of one pull request (one per app)", optional=True),
    Input("approve-label", "preview", check.no_control, "", flag=Flag.ACTION_ONLY),
    Input("data-size", "", check.quantity,
          "a PersistentVolumeClaim of this size at /data (PREVIEW_DATA_DIR), e.g. 20Gi",
          optional=True),
    Input("data-storage-class", "", check.dns_subdomain,
          "storage class of the data volume (default: the cluster's)", optional=True),
    Input("setup", "", check.no_control,
          "shell command run in the checkout after requirements, before Streamlit", optional=True),
    _lines("setup-watch", "", _globs,
           "glob: a sync that changes a matching file runs setup again (repeatable)"),
    _secret_file("secrets-toml", check.toml_text,
                 "file of TOML that st.secrets sees (never on the command line)",
                 keep_spaces=True, flag_name="--secrets-toml-file"),
    Input("cpu", "500m", check.quantity, "CPU request and limit (Kubernetes quantity)"),
    Input("memory", "1Gi", check.quantity, "memory request and limit (Kubernetes quantity)"),
    Input("gpu", "0", check.whole_number, "number of nvidia.com/gpu"),
    _lines("node-selector", "", check.label_lines, "key=value node label (repeatable)"),
    _lines("tolerations", "", check.taint_lines,
           "key[=value]:Effect taint the preview tolerates (repeatable)"),
    Input("ttl", "7d", _ttl, "expiry written on every object (e.g. 7d; 0 for none)",
          field="ttl_seconds"),
    Input("wait-timeout", "5m", check.duration,
          "how long to wait for the environment to serve (e.g. 5m)"),
    Input("comment", "true", check.boolean, "", flag=Flag.ACTION_ONLY),
    Input("deployment", "true", check.boolean, "", flag=Flag.ACTION_ONLY),
    Input("webhook-url", "", check.https_url,
          "send sync to this public /sync URL instead of the API server's proxy", optional=True),
)  # fmt: skip
BY_NAME = {row.name: row for row in INPUTS}
DEFAULTS: dict[str, str] = {row.name: row.default for row in INPUTS}
FLAGS = tuple(row for row in INPUTS if row.flag is not Flag.ACTION_ONLY)


def parse_all(inputs: Mapping[str, str], label: Callable[[str], str]) -> dict[str, Any]:
    """Every row's field, parsed from `inputs` over the defaults; the first bad input raises."""
    return {row.settings_field: row.value(inputs, label) for row in INPUTS}
