"""Every router a preview can be published through, and every shared sign-in, in one table each.

The `router` input's choices, the route's template and kind, what to install when that kind
is missing, and which sign-ins can protect it are all read from `ROUTERS`; the sign-ins'
templates and kinds from `SIGN_INS`. Adding a router is one row.
"""

from __future__ import annotations

from dataclasses import dataclass

from .access import SignInRouter


@dataclass(frozen=True)
class Router:
    name: str  # the `router` input
    template: str | None  # the route's template; None: no route (a Service only)
    kind: str | None  # the route's kind
    crd_hint: str | None  # what provides the kind, said when the API server lacks it
    protected_by: tuple[SignInRouter, ...]  # the shared sign-ins that can protect it


@dataclass(frozen=True)
class SignInKind:
    router: SignInRouter
    template: str  # the access objects of a protected preview
    kind: str  # their kind


ROUTERS = (
    Router("istio", "virtualservice.yaml.j2", "VirtualService", "Istio's networking CRDs",
           (SignInRouter.ISTIO,)),
    Router("gateway-api", "httproute.yaml.j2", "HTTPRoute", "the Gateway API CRDs",
           (SignInRouter.TRAEFIK, SignInRouter.ISTIO, SignInRouter.ENVOY_GATEWAY)),
    Router("ingress", "ingress.yaml.j2", "Ingress", None, (SignInRouter.TRAEFIK,)),
    Router("none", None, None, None, ()),
)  # fmt: skip
SIGN_INS = (
    SignInKind(SignInRouter.TRAEFIK, "access-traefik.yaml.j2", "Middleware"),
    SignInKind(SignInRouter.ISTIO, "access-istio.yaml.j2", "AuthorizationPolicy"),
    SignInKind(SignInRouter.ENVOY_GATEWAY, "access-envoy-gateway.yaml.j2", "SecurityPolicy"),
)
BY_NAME = {router.name: router for router in ROUTERS}
NAMES = tuple(router.name for router in ROUTERS)
ROUTE_KINDS = frozenset(router.kind for router in ROUTERS if router.kind)
SIGN_IN_KINDS = frozenset(sign_in.kind for sign_in in SIGN_INS)


def protectable_by(sign_in: SignInRouter) -> tuple[str, ...]:
    """The `router` values whose previews `sign_in` can protect."""
    return tuple(router.name for router in ROUTERS if sign_in in router.protected_by)


def sign_in_template(sign_in: SignInRouter) -> str:
    return next(kind.template for kind in SIGN_INS if kind.router is sign_in)


def missing_kind_hint(kind: str) -> str | None:
    """Why the API server may not know `kind`, for a 404 on applying it."""
    for router in ROUTERS:
        if router.kind == kind:
            provider = f" ({router.crd_hint})" if router.crd_hint else ""
            return f"is the {kind} CRD installed{provider}? see the router input"
    if kind in SIGN_IN_KINDS:
        return f"is the {kind} CRD installed? the sign-in needs it"
    return None
