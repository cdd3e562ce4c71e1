"""One typed settings model for every front: parsing, defaults and one-line errors.

The action (`INPUT_*`) and the command line (`--flags`) both hand a mapping of input names to
strings to `build_settings`; only the way an input is named in messages differs. Only the
fronts read the environment; everything below them receives `settings=`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import yaml

from . import __version__, routers
from . import validation as check
from .access import Access, parse_access
from .errors import InputError
from .naming import environment_name

MODES = ("open", "sync", "close", "auto")
PYTHONS = ("3.11", "3.12", "3.13")
# The published image of this version, one tag per supported CPython; releases add digests.
IMAGE_REPOSITORY = "ghcr.io/streamlit-preview/streamlit-preview"
DEFAULT_IMAGES = {
    "3.11": f"{IMAGE_REPOSITORY}:{__version__}-python3.11",
    "3.12": f"{IMAGE_REPOSITORY}:{__version__}-python3.12",
    "3.13": f"{IMAGE_REPOSITORY}:{__version__}-python3.13",
}
ROUTERS = routers.NAMES

# Input defaults: action.yml states the same values (a test keeps them equal).
CLEAR_CACHE_MODES = ("data", "all", "never")
DEFAULTS: dict[str, str] = {
    "mode": "auto",
    "namespace": "previews",
    "domain": "",
    "app-path": "streamlit_app.py",
    "image": "",
    "python": "3.12",
    "image-pull-secret": "",
    "tolerations": "",
    "secrets-toml": "",
    "name": "",
    "setup": "",
    "data-size": "",
    "approve-label": "preview",
    "data-storage-class": "",
    "setup-watch": "",
    "router": "gateway-api",
    "gateway": "preview-gateway",
    "ingress-class": "",
    "access": "",
    "ephemeral-storage": "2Gi",
    "workspace-size": "1Gi",
    "check": "page",
    "check-timeout": "30s",
    "clear-cache": "data",
    "env": "",
    "secret-env": "",
    "cpu": "500m",
    "memory": "1Gi",
    "gpu": "0",
    "node-selector": "",
    "ttl": "7d",
    "wait-timeout": "5m",
    "comment": "true",
    "deployment": "true",
    "webhook-url": "",
    "kubeconfig": "",
    "cluster-url": "",
    "cluster-ca": "",
    "oidc-audience": "streamlit-preview",
    "sleep-after": "",
}
SLEEP_AFTER_FALLBACK = "30m"  # when neither the input nor the cluster says
# Inputs that, when a workflow or a command leaves them empty, come from the cluster (the
# chart's ConfigMap in the preview namespace), then from DEFAULTS.
CLUSTER_DEFAULTED = ("domain", "router", "gateway", "sleep-after")
DEFAULTS_CONFIGMAP = "streamlit-preview-defaults"


def with_cluster_defaults(inputs: Mapping[str, str], found: Mapping[str, str]) -> dict[str, str]:
    """`inputs`, with the cluster's defaults where they leave a `CLUSTER_DEFAULTED` one empty."""
    merged = dict(inputs)
    for name in CLUSTER_DEFAULTED:
        if not merged.get(name, "").strip() and found.get(name):
            merged[name] = found[name]
    return merged


def needs_cluster_defaults(inputs: Mapping[str, str]) -> bool:
    return any(not inputs.get(name, "").strip() for name in CLUSTER_DEFAULTED)


@dataclass(frozen=True)
class Target:
    """Which pull request to preview: from the event (action) or from flags (CLI)."""

    repository: str  # owner/name, URL or path: names the environment
    repo_url: str  # what the reloader clones
    branch: str  # "" when not needed (sync and close of an existing environment)
    pr: int
    sha: str | None = None
    owner_is_org: bool = True  # from the event's repository.owner.type; the CLI assumes it


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, validated; secrets are kept out of `repr`."""

    mode: str
    target: Target
    environment: str
    name: str | None
    namespace: str
    domain: str | None
    app_path: str
    image: str
    python: str
    image_pull_secret: str | None
    router: str
    gateway: str
    ingress_class: str | None
    access: Access | None  # as asked; the backend resolves it against the cluster's sign-in
    ephemeral_storage: str
    workspace_size: str
    check: str  # page: the reloader looks at the page after every start and sync; none
    check_timeout: int  # seconds a run may take before the page counts as "still running"
    clear_cache: str  # data | all | never: what a sync changing more than Python source drops
    env: dict[str, str]
    cpu: str
    memory: str
    gpu: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    ttl_seconds: int
    wait_timeout: int
    comment: bool
    deployment: bool
    webhook_url: str | None
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    secrets_toml: str | None = field(default=None, repr=False)
    setup: str | None = None
    setup_watch: tuple[str, ...] = ()
    data_size: str | None = None
    data_storage_class: str | None = None
    approve_label: str = "preview"
    pin: str | None = None  # a fork preview: exactly this commit, never the branch head
    kubeconfig: dict | None = field(default=None, repr=False)
    git_token: str | None = field(default=None, repr=False)
    cluster_url: str | None = None  # with no kubeconfig: sign in with the workflow's OIDC token
    cluster_ca: str | None = None  # PEM
    oidc_audience: str = "streamlit-preview"
    sleep_after: int | None = None  # seconds without a viewer or a commit; None: never sleeps
    # A fresh cluster token (the workflow's OIDC one), for runs that outlive the first.
    token_renewal: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    @property
    def host(self) -> str | None:
        return f"{self.environment}.{self.domain}" if self.domain else None

    @property
    def url(self) -> str | None:
        return f"https://{self.host}/" if self.host else None


def build_settings(
    inputs: Mapping[str, str],
    target: Target,
    *,
    label: Callable[[str], str] = lambda name: name,
    needs_route: bool = True,
    git_token: str | None = None,
) -> Settings:
    """Validate `inputs` (input name → text) over `DEFAULTS`; `label` names inputs in errors."""
    value = {k: (inputs.get(k) or "").strip() or DEFAULTS[k] for k in DEFAULTS}
    raw = {
        k: inputs.get(k) or DEFAULTS[k] for k in ("env", "secret-env", "secrets-toml")
    }  # keep values' spaces
    router = check.choice(label("router"), value["router"], ROUTERS)
    domain = check.domain(label("domain"), value["domain"]) if value["domain"] else None
    if needs_route and router != "none" and domain is None:
        raise InputError(
            label("domain"), f"required with router {router}: e.g. previews.example.com"
        )
    app_path = value["app-path"]
    if app_path.startswith("/") or ".." in app_path.split("/"):
        raise InputError(
            label("app-path"), f"expected a path inside the repository, got {app_path!r}"
        )
    gateway = value["gateway"]
    for part in gateway.split("/", 1):
        check.dns_label(label("gateway"), part)
    env = check.env_lines(label("env"), raw["env"])
    secret_env = check.env_lines(label("secret-env"), raw["secret-env"])
    check.distinct_names(label("env"), env, label("secret-env"), secret_env)
    python = check.choice(label("python"), value["python"], PYTHONS)
    preview_name = check.preview_name(label("name"), value["name"]) if value["name"] else None
    if value["image"] and inputs.get("python", "").strip() and python != DEFAULTS["python"]:
        raise InputError(
            label("python"),
            "applies to the default image only; with image, pick the Python by its tag",
        )
    return Settings(
        mode=check.choice(label("mode"), value["mode"], MODES),
        target=target,
        environment=environment_name(target.repository, target.pr, preview_name),
        name=preview_name,
        namespace=check.dns_label(label("namespace"), value["namespace"]),
        domain=domain,
        app_path=app_path,
        image=_image(label("image"), value["image"]) if value["image"] else DEFAULT_IMAGES[python],
        python=python,
        image_pull_secret=check.dns_subdomain(
            label("image-pull-secret"), value["image-pull-secret"]
        )
        if value["image-pull-secret"]
        else None,
        router=router,
        gateway=gateway,
        ingress_class=check.dns_subdomain(label("ingress-class"), value["ingress-class"])
        if value["ingress-class"]
        else None,
        access=parse_access(label("access"), value["access"]),
        ephemeral_storage=check.quantity(label("ephemeral-storage"), value["ephemeral-storage"]),
        workspace_size=check.quantity(label("workspace-size"), value["workspace-size"]),
        check=check.choice(label("check"), value["check"], ("page", "none")),
        check_timeout=check.duration(label("check-timeout"), value["check-timeout"]),
        clear_cache=check.choice(label("clear-cache"), value["clear-cache"], CLEAR_CACHE_MODES),
        env=env,
        secret_env=secret_env,
        approve_label=check.no_control(label("approve-label"), value["approve-label"]),
        data_size=check.quantity(label("data-size"), value["data-size"])
        if value["data-size"]
        else None,
        data_storage_class=check.dns_subdomain(
            label("data-storage-class"), value["data-storage-class"]
        )
        if value["data-storage-class"]
        else None,
        setup=check.no_control(label("setup"), value["setup"]) if value["setup"] else None,
        setup_watch=tuple(
            check.no_control(label("setup-watch"), g.strip())
            for g in value["setup-watch"].splitlines()
            if g.strip()
        ),
        secrets_toml=check.toml_text(label("secrets-toml"), raw["secrets-toml"])
        if raw["secrets-toml"].strip()
        else None,
        cpu=check.quantity(label("cpu"), value["cpu"]),
        memory=check.quantity(label("memory"), value["memory"]),
        gpu=check.whole_number(label("gpu"), value["gpu"]),
        node_selector=check.label_lines(label("node-selector"), value["node-selector"]),
        tolerations=check.taint_lines(label("tolerations"), value["tolerations"]),
        ttl_seconds=check.duration(label("ttl"), value["ttl"], allow_zero=True),
        wait_timeout=check.duration(label("wait-timeout"), value["wait-timeout"]),
        comment=check.boolean(label("comment"), value["comment"]),
        deployment=check.boolean(label("deployment"), value["deployment"]),
        webhook_url=check.https_url(label("webhook-url"), value["webhook-url"])
        if value["webhook-url"]
        else None,
        kubeconfig=parse_kubeconfig(label("kubeconfig"), value["kubeconfig"])
        if value["kubeconfig"]
        else None,
        git_token=git_token,
        cluster_url=check.api_server_url(label("cluster-url"), value["cluster-url"])
        if value["cluster-url"]
        else None,
        cluster_ca=check.ca_pem(label("cluster-ca"), value["cluster-ca"])
        if value["cluster-ca"]
        else None,
        oidc_audience=check.audience(label("oidc-audience"), value["oidc-audience"]),
        sleep_after=check.sleep_after(
            label("sleep-after"), value["sleep-after"] or SLEEP_AFTER_FALLBACK
        ),
    )


def _image(name: str, value: str) -> str:
    if any(ch.isspace() for ch in value) or value.startswith("-") or not value:
        raise InputError(
            name, f"expected an image reference such as ghcr.io/o/i:tag, got {value!r}"
        )
    return value


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


def make_target(
    *, repository: str, repo_url: str | None, branch: str, pr: str | int, sha: str | None,
    owner_is_org: bool = True, label: Callable[[str], str] = lambda name: name,
) -> Target:  # fmt: skip
    """Validate what identifies the pull request."""
    if not repository:
        raise InputError(label("repo"), "required: the repository to preview")
    return Target(
        repository=repository,
        repo_url=repo_url or repository,
        branch=check.branch(label("branch"), branch) if branch else "",
        pr=check.positive_int(label("pr"), str(pr)),
        sha=check.commit_sha(label("sha"), sha) if sha else None,
        owner_is_org=owner_is_org,
    )
