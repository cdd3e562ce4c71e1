"""One typed settings model for every front: parsing, defaults and one-line errors.

The action (`INPUT_*`) and the command line (`--flags`) both hand a mapping of input names to
strings to `build_settings`; only the way an input is named in messages differs. Each input is
parsed by its row in `inputs.py`; this module adds what no single input decides alone. Only the
fronts read the environment; everything below them receives `settings=`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from . import validation as check
from .access import Access
from .errors import InputError
from .inputs import DEFAULTS, parse_all
from .naming import environment_name

# The published image of this version, one tag per supported CPython; releases add digests.
IMAGE_REPOSITORY = "ghcr.io/streamlit-preview/streamlit-preview"
DEFAULT_IMAGES = {
    "3.11": f"{IMAGE_REPOSITORY}:{__version__}-python3.11",
    "3.12": f"{IMAGE_REPOSITORY}:{__version__}-python3.12",
    "3.13": f"{IMAGE_REPOSITORY}:{__version__}-python3.13",
}
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
    """Everything one run needs, validated; secrets are kept out of `repr`. Each input's field
    is named by its row in `inputs.INPUTS`."""

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
    """Validate `inputs` (input name → text) by the table of `inputs.py`, then what no single
    input can check alone; `label` names inputs in errors."""
    fields = parse_all(inputs, label)
    _check_together(fields, inputs, label, needs_route=needs_route)
    image = fields.pop("image") or DEFAULT_IMAGES[fields["python"]]
    environment = environment_name(target.repository, target.pr, fields["name"])
    return Settings(
        target=target, environment=environment, image=image, git_token=git_token, **fields
    )


def _check_together(
    fields: Mapping[str, Any], inputs: Mapping[str, str], label: Callable[[str], str],
    *, needs_route: bool,
) -> None:  # fmt: skip
    """The rules between inputs, each failing with the one input to change."""
    router = fields["router"]
    if needs_route and router != "none" and fields["domain"] is None:
        raise InputError(
            label("domain"), f"required with router {router}: e.g. previews.example.com"
        )
    check.distinct_names(label("env"), fields["env"], label("secret-env"), fields["secret_env"])
    python_given = inputs.get("python", "").strip()
    if fields["image"] and python_given and fields["python"] != DEFAULTS["python"]:
        raise InputError(
            label("python"),
            "applies to the default image only; with image, pick the Python by its tag",
        )


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
