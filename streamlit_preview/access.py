"""Who may see a preview: the `access` input, the cluster's shared sign-in, and the rule.

Pure, no I/O. The cluster declares its sign-in once, in a ConfigMap that
the chart writes (`SIGN_IN_CONFIGMAP` in each preview namespace); the backend
reads it and hands it here as a mapping.

- With a sign-in, every preview is protected by default: `org` for an organisation's
  repository, `collaborators` for a personal one. Only `access: public` makes it public.
- Without one, previews are public, and asking for anything else fails with one line.

The sign-in is oauth2-proxy with GitHub: its groups are the user's organisations (`acme`)
and teams (`acme:reviewers`), and each preview asks it for its own `allowed_groups`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .cookies import SIGN_IN_COOKIE
from .errors import InputError
from .naming import owner_of, repository_key

SIGN_IN_CONFIGMAP = "streamlit-preview-sign-in"
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class AccessKind(StrEnum):
    ORG = "org"
    TEAM = "team"
    COLLABORATORS = "collaborators"
    PUBLIC = "public"


class SignInRouter(StrEnum):
    """Which router enforces the sign-in, so which per-preview objects are rendered."""

    TRAEFIK = "traefik"
    ISTIO = "istio"
    ENVOY_GATEWAY = "envoy-gateway"


@dataclass(frozen=True)
class Access:
    """A resolved rule: who may open the preview."""

    kind: AccessKind
    org: str | None = None
    team: str | None = None
    repository: str | None = None  # collaborators: owner/name

    @property
    def protected(self) -> bool:
        return self.kind is not AccessKind.PUBLIC

    @property
    def text(self) -> str:
        """The input's own spelling: `org:acme`, `team:acme/reviewers`, `public`."""
        if self.kind is AccessKind.ORG:
            return f"org:{self.org}" if self.org else "org"
        if self.kind is AccessKind.TEAM:
            return f"team:{self.org}/{self.team}"
        return self.kind.value

    @property
    def allowed_groups(self) -> str | None:
        """oauth2-proxy's group for the rule: `acme`, or `acme:reviewers` for a team."""
        if self.kind is AccessKind.ORG:
            return self.org
        if self.kind is AccessKind.TEAM:
            return f"{self.org}:{self.team}"
        return None

    def describe(self) -> str:
        """Who can see it, for the PR comment."""
        if self.kind is AccessKind.ORG:
            return f"members of the GitHub organisation `{self.org}`, after signing in"
        if self.kind is AccessKind.TEAM:
            return f"members of the team `{self.org}/{self.team}`, after signing in"
        if self.kind is AccessKind.COLLABORATORS:
            return f"people with read access to `{self.repository}`, after signing in"
        return "anyone with the link (public)"


@dataclass(frozen=True)
class SignIn:
    """The cluster's shared sign-in, as its ConfigMap declares it."""

    url: str  # where people sign in, e.g. https://auth.previews.example.com
    router: SignInRouter
    forward_auth: str | None = None  # Traefik: the oauth2-proxy address for ForwardAuth
    service: str | None = None  # Traefik: the sign-in's Service in the previews namespace
    service_port: int = 4180
    service_namespace: str | None = None  # Traefik: the sign-in's namespace, when not the preview's
    istio_provider: str | None = None  # Istio: the extensionProvider name in the mesh config
    envoy_backend: str | None = None  # Envoy Gateway: `name:port` of the Service
    enforces: str | None = None  # Istio/Envoy Gateway: the one rule the sign-in itself applies
    collaborators_check: str | None = None  # Traefik: the webhook receiver's access check URL
    cookie_filter: str | None = None  # Traefik: the receiver that strips the sign-in's cookies
    cookie_name: str = SIGN_IN_COOKIE  # the sign-in's session cookie (and its parts)

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> SignIn:
        where = f"ConfigMap {SIGN_IN_CONFIGMAP}"
        try:
            router = SignInRouter(data.get("router", "traefik"))
        except ValueError:
            raise InputError(
                where, f"router must be traefik, istio or envoy-gateway, got {data.get('router')!r}"
            ) from None
        url = data.get("url", "")
        if not url.startswith("https://"):
            raise InputError(where, f"url must be the https address of the sign-in, got {url!r}")
        needed = {
            SignInRouter.TRAEFIK: ("forward-auth", "service", "cookie-filter"),
            SignInRouter.ISTIO: ("istio-provider", "enforces"),
            SignInRouter.ENVOY_GATEWAY: ("envoy-backend", "enforces"),
        }[router]
        missing = [key for key in needed if not data.get(key)]
        if missing:
            raise InputError(where, f"needs {', '.join(missing)} for router {router.value}")
        return cls(
            url=url.rstrip("/"), router=router, forward_auth=data.get("forward-auth"),
            service=data.get("service"), service_port=int(data.get("service-port", "4180")),
            service_namespace=data.get("service-namespace") or None,
            istio_provider=data.get("istio-provider"), envoy_backend=data.get("envoy-backend"),
            enforces=data.get("enforces"),
            collaborators_check=(data.get("collaborators-check") or "").rstrip("/") or None,
            cookie_filter=(data.get("cookie-filter") or "").rstrip("/") or None,
            cookie_name=data.get("cookie-name") or SIGN_IN_COOKIE,
        )  # fmt: skip


def parse_access(name: str, value: str) -> Access | None:
    """The `access` input; None when empty (the cluster's default then applies)."""
    text = value.strip()
    if not text:
        return None
    expected = "org, org:<name>, team:<org>/<slug>, collaborators or public"
    if text in ("public", "collaborators"):
        return Access(AccessKind(text))
    if text == "org":
        return Access(AccessKind.ORG)  # the owner is filled in by resolve_access
    kind, _, rest = text.partition(":")
    if kind == "org" and _NAME.match(rest):
        return Access(AccessKind.ORG, org=rest.lower())
    if kind == "team":
        org, _, slug = rest.partition("/")
        if _NAME.match(org) and _SLUG.match(slug):
            return Access(AccessKind.TEAM, org=org.lower(), team=slug.lower())
    raise InputError(name, f"expected {expected}, got {text!r}")


def resolve_access(
    requested: Access | None, *, sign_in: SignIn | None, repository: str, owner_is_org: bool
) -> Access:
    """The rule a preview gets, or one line saying why it cannot be protected here."""
    owner = owner_of(repository)
    if sign_in is None:
        if requested is None or not requested.protected:
            return Access(AccessKind.PUBLIC)
        raise InputError(
            "access",
            f"{requested.text} needs the cluster's shared sign-in, and this cluster declares "
            f"none: install the chart's sign-in (docs/install.md, ConfigMap {SIGN_IN_CONFIGMAP}), or use "
            "access: public",
        )
    if requested is None:
        requested = Access(AccessKind.ORG) if owner_is_org else Access(AccessKind.COLLABORATORS)
    if requested.kind is AccessKind.ORG and requested.org is None:
        if not owner:
            raise InputError("access", f"org needs an owner/name repository, got {repository!r}")
        requested = Access(AccessKind.ORG, org=owner)
    if requested.kind is AccessKind.COLLABORATORS:
        parts = repository_key(repository).split("/")
        if len(parts) < 2:
            raise InputError(
                "access", f"collaborators needs an owner/name repository, got {repository!r}"
            )
        requested = Access(AccessKind.COLLABORATORS, repository="/".join(parts[-2:]))
    return requested


def describe_access(text: str | None, repository: str) -> str | None:
    """`describe()` for an access read back from an object's annotation."""
    if not text:
        return None
    try:
        access = parse_access("access", text)
    except InputError:
        return None
    if access is None:
        return None
    if access.kind is AccessKind.COLLABORATORS:
        access = Access(AccessKind.COLLABORATORS, repository=repository)
    return access.describe()
