"""`plan_open`: what a Kubernetes open applies, decided from the settings and what the cluster
holds, before anything is sent (in process; tests/cluster carries plans out)."""

from __future__ import annotations

import base64

import pytest

from streamlit_preview.access import SignIn
from streamlit_preview.backends.kubernetes import plan_open
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.errors import InputError

TRAEFIK = SignIn.from_configmap({
    "url": "https://auth.previews.test", "router": "traefik",
    "forward-auth": "http://10.88.0.1:4180/", "service": "preview-sign-in", "cookie-filter": "http://10.88.0.1:9000",
})  # fmt: skip


def settings(router: str = "ingress", access: str = ""):  # type: ignore[no-untyped-def]
    target = make_target(repository="acme/shop", repo_url=None, branch="main", pr=7, sha=None)
    return build_settings({"domain": "previews.test", "router": router, "access": access}, target)


def existing_secret(key: str, router: str) -> dict:
    return {"metadata": {"annotations": {"streamlit-preview.dev/router": router}},
            "data": {"webhook-key": base64.b64encode(key.encode()).decode()}}  # fmt: skip


def test_a_new_environment_gets_a_fresh_key_and_is_removed_if_it_fails():
    plan = plan_open(settings(access="public"), secret=None, sign_in=None)
    assert plan.new and not plan.prune
    assert len(plan.key) == 64 and plan.access.text == "public" and plan.sign_in is None
    assert [o["kind"] for o in plan.objects] == ["Secret", "Service", "Deployment", "Ingress"]


def test_an_existing_environment_keeps_its_key_and_prunes_what_is_no_longer_rendered():
    plan = plan_open(
        settings(access="public"), secret=existing_secret("k" * 64, "istio"), sign_in=None
    )
    assert not plan.new and plan.prune and plan.key == "k" * 64


def test_with_the_clusters_sign_in_the_plan_protects_the_preview():
    plan = plan_open(settings(), secret=None, sign_in=TRAEFIK)
    assert plan.access.text == "org:acme" and plan.sign_in is TRAEFIK  # the owner's organisation
    kinds = [o["kind"] for o in plan.objects]
    assert "Middleware" in kinds and kinds[-1] == "Ingress"  # the route last, once protected


def test_a_protected_preview_is_never_reopened_public_because_the_sign_in_went_missing():
    protected = existing_secret("k" * 64, "ingress")
    protected["metadata"]["annotations"]["streamlit-preview.dev/access"] = "org:acme"
    with pytest.raises(
        InputError, match=r"was protected \(org:acme\) and the cluster's sign-in is gone"
    ):
        plan_open(settings(), secret=protected, sign_in=None)
    reopened = plan_open(settings(access="public"), secret=protected, sign_in=None)  # said so
    assert reopened.access.text == "public"
    assert plan_open(settings(), secret=protected, sign_in=TRAEFIK).access.text == "org:acme"
