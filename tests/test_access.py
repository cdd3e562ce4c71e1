"""Who may see a preview: the `access` input against the cluster's sign-in, and the objects each
router gets, validated against their real CRDs (Traefik, Istio, Envoy Gateway)."""

from __future__ import annotations

import re

import pytest

from streamlit_preview.access import SignIn, parse_access, resolve_access
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.errors import InputError
from streamlit_preview.render import render_manifests
from tests.fixtures.schemas import validate_object

TRAEFIK = SignIn.from_configmap({
    "url": "https://auth.previews.test", "router": "traefik",
    "forward-auth": "http://10.88.0.1:4180/", "service": "preview-sign-in", "cookie-filter": "http://10.88.0.1:9000",
})  # fmt: skip
ISTIO = SignIn.from_configmap({
    "url": "https://auth.previews.test", "router": "istio",
    "istio-provider": "oauth2-proxy", "enforces": "org:acme",
})  # fmt: skip
ENVOY = SignIn.from_configmap({
    "url": "https://auth.previews.test", "router": "envoy-gateway",
    "envoy-backend": "preview-sign-in:4180", "enforces": "org:acme",
})  # fmt: skip


def _settings(router: str, access: str = ""):  # type: ignore[no-untyped-def]
    target = make_target(repository="acme/shop", repo_url=None, branch="main", pr=7, sha=None)
    return build_settings({"domain": "previews.test", "router": router, "access": access}, target)


def _render(router: str, access: str, sign_in: SignIn | None):  # type: ignore[no-untyped-def]
    settings = _settings(router, access)
    resolved = resolve_access(
        settings.access, sign_in=sign_in, repository="acme/shop", owner_is_org=True
    )
    return resolved, render_manifests(settings, webhook_key="k", access=resolved, sign_in=sign_in)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("public", "public"), ("org", "org"), ("org:Acme", "org:acme"),
     ("team:acme/reviewers", "team:acme/reviewers"), ("collaborators", "collaborators")],
)  # fmt: skip
def test_access_values_parse(text, expected):
    assert parse_access("access", text).text == expected


@pytest.mark.parametrize(
    "text", ["everyone", "org:", "team:acme", "team:/x", "org:a b", "team:a/b/c d"]
)
def test_bad_access_is_one_line_naming_the_input(text):
    with pytest.raises(InputError) as caught:
        parse_access("access", text)
    assert str(caught.value).startswith("access:") and "\n" not in str(caught.value)


def test_without_a_sign_in_previews_are_public_and_protection_cannot_be_asked_for():
    assert (
        resolve_access(None, sign_in=None, repository="acme/shop", owner_is_org=True).text
        == "public"
    )
    with pytest.raises(InputError, match="the chart's sign-in"):
        resolve_access(
            parse_access("access", "org"), sign_in=None, repository="acme/shop", owner_is_org=True
        )


def test_with_a_sign_in_the_default_is_the_owner_organisation_or_collaborators():
    org = resolve_access(None, sign_in=TRAEFIK, repository="acme/shop", owner_is_org=True)
    assert (org.text, org.allowed_groups) == ("org:acme", "acme")
    personal = resolve_access(None, sign_in=TRAEFIK, repository="alice/notes", owner_is_org=False)
    assert personal.text == "collaborators"


@pytest.mark.parametrize("router", ["ingress", "gateway-api"])
@pytest.mark.parametrize("access", ["", "org:other", "team:acme/reviewers", "public"])
def test_traefik_objects_are_valid_and_the_route_needs_them(router, access):
    resolved, objects = _render(router, access, TRAEFIK)
    for obj in objects:
        validate_object(obj)
    kinds = [o["kind"] for o in objects]
    route = objects[-1]
    assert route["kind"] == ("Ingress" if router == "ingress" else "HTTPRoute")
    if not resolved.protected:
        assert "Middleware" not in kinds
        return
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    assert kinds.index("Middleware") < kinds.index(route["kind"])  # applied before the route
    forward = _named(middlewares, "acme-shop-pr-7-sign-in-")["forwardAuth"]["address"]
    assert forward.endswith(f"allowed_groups={resolved.allowed_groups}")
    if router == "ingress":
        reference = route["metadata"]["annotations"][
            "traefik.ingress.kubernetes.io/router.middlewares"
        ]
        assert reference == "previews-acme-shop-pr-7-access@kubernetescrd"
        assert route["spec"]["tls"] == [{"hosts": ["acme-shop-pr-7.previews.test"]}]
    else:
        (rule,) = route["spec"]["rules"]
        assert rule["filters"][0]["extensionRef"]["name"] == "acme-shop-pr-7-access"


@pytest.mark.parametrize(("sign_in", "router", "kind"),
                         [(ISTIO, "istio", "AuthorizationPolicy"), (ISTIO, "gateway-api", "AuthorizationPolicy"),
                          (ENVOY, "gateway-api", "SecurityPolicy")])  # fmt: skip
def test_istio_and_envoy_gateway_objects_are_valid(sign_in, router, kind):
    _, objects = _render(router, "", sign_in)
    for obj in objects:
        validate_object(obj)
    assert kind in [o["kind"] for o in objects]


def test_a_rule_the_router_cannot_enforce_fails_instead_of_serving_more_people():
    with pytest.raises(InputError, match="one rule for every preview"):
        _render("istio", "team:acme/reviewers", ISTIO)
    with pytest.raises(InputError, match="router"):
        _render("istio", "", TRAEFIK)
    with pytest.raises(InputError, match="access check"):
        _render("ingress", "collaborators", TRAEFIK)  # no collaborators-check declared


def test_collaborators_chain_the_receivers_check_after_the_sign_in():
    sign_in = SignIn.from_configmap({
        "url": "https://auth.previews.test", "router": "traefik", "forward-auth": "http://10.88.0.1:4180/",
        "service": "preview-sign-in", "collaborators-check": "http://hook.previews.svc/",
        "cookie-filter": "http://hook.previews.svc/",
    })  # fmt: skip
    _, objects = _render("ingress", "collaborators", sign_in)
    for obj in objects:
        validate_object(obj)
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    assert (
        _named(middlewares, "acme-shop-pr-7-sign-in-")["forwardAuth"]["address"]
        == "http://10.88.0.1:4180/"
    )
    check = _named(middlewares, "acme-shop-pr-7-collaborators-")["forwardAuth"]["address"]
    assert check == "http://hook.previews.svc/access/collaborators/acme/shop"
    chain = [m["name"] for m in middlewares["acme-shop-pr-7-access"]["chain"]["middlewares"]]
    assert [re.sub(r"-[0-9a-f]{8}$", "", name) for name in chain] == [
        "acme-shop-pr-7-refused",
        "acme-shop-pr-7-sign-in",
        "acme-shop-pr-7-collaborators",
        "acme-shop-pr-7-cookies",
    ]


def _named(middlewares: dict, prefix: str) -> dict:
    (name,) = [n for n in middlewares if n.startswith(prefix)]
    return middlewares[name]


def test_an_access_change_applies_new_rules_before_the_chain_switches_to_them():
    """From `org` to `collaborators`: the rule's Middlewares are new objects, applied before the
    chain; the chain moves from the old rule to the new one in one write, and the old ones are
    pruned after it. Never a moment with the sign-in alone (anyone signed in)."""
    sign_in = SignIn.from_configmap({
        "url": "https://auth.previews.test", "router": "traefik", "forward-auth": "http://10.88.0.1:4180/",
        "service": "preview-sign-in", "collaborators-check": "http://hook/", "cookie-filter": "http://hook/",
    })  # fmt: skip
    _, before = _render("ingress", "org", sign_in)
    _, after = _render("ingress", "collaborators", sign_in)
    old = {o["metadata"]["name"] for o in before if o["kind"] == "Middleware"}
    new_objects = [o for o in after if o["kind"] == "Middleware"]
    rules = [o["metadata"]["name"] for o in new_objects if "-sign-in-" in o["metadata"]["name"]]
    assert rules and not set(rules) & old  # a changed rule is a new object, never an edit
    names = [o["metadata"]["name"] for o in after]
    chain = names.index("acme-shop-pr-7-access")
    for o in new_objects:
        if o["metadata"]["name"] != "acme-shop-pr-7-access":
            assert names.index(o["metadata"]["name"]) < chain  # applied before the chain


def test_the_chain_ends_by_taking_the_sign_in_cookies_away_from_the_app():
    _, objects = _render("ingress", "org", TRAEFIK)
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    chain = [m["name"] for m in middlewares["acme-shop-pr-7-access"]["chain"]["middlewares"]]
    assert chain[-1] == "acme-shop-pr-7-cookies"
    strip = middlewares["acme-shop-pr-7-cookies"]["forwardAuth"]
    assert strip == {"address": "http://10.88.0.1:9000/access/strip-cookies",
                     "authResponseHeaders": ["Cookie"]}  # fmt: skip
    for spec in middlewares.values():  # Traefik alone says which host and path a request is for
        assert "trustForwardHeader" not in spec.get("forwardAuth", {})


def test_a_traefik_sign_in_without_the_cookie_filter_is_refused():
    with pytest.raises(InputError, match="needs cookie-filter for router traefik"):
        SignIn.from_configmap({
            "url": "https://auth.previews.test", "router": "traefik",
            "forward-auth": "http://10.88.0.1:4180/", "service": "preview-sign-in",
        })  # fmt: skip


def test_ingress_uses_the_default_class_unless_one_is_named():
    _, objects = _render("ingress", "public", None)
    assert "ingressClassName" not in objects[-1]["spec"]
    settings = build_settings(
        {"domain": "previews.test", "router": "ingress", "ingress-class": "nginx"},
        make_target(repository="acme/shop", repo_url=None, branch="main", pr=7, sha=None),
    )
    assert render_manifests(settings, webhook_key="k")[-1]["spec"]["ingressClassName"] == "nginx"


def test_the_pod_has_disk_limits():
    _, objects = _render("ingress", "public", None)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["ephemeral-storage"] == "2Gi"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["workspace"]["emptyDir"]["sizeLimit"] == "1Gi"
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "1Gi"
