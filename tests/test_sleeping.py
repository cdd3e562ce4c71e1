"""sleeping.py and what a preview that may sleep is rendered with: the decision, the input,
and Traefik's wake Middleware at the end of the preview's chain (after the sign-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamlit_preview.access import SignIn, resolve_access
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.errors import InputError
from streamlit_preview.render import Waker, render_manifests
from streamlit_preview.sleeping import should_sleep
from tests.fixtures.schemas import validate_object

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WAKER = Waker("streamlit-preview-hook", "preview-system", 80)
TRAEFIK = SignIn.from_configmap({
    "url": "https://auth.previews.test", "router": "traefik", "forward-auth": "http://10.88.0.1:4180/",
    "service": "preview-sign-in", "cookie-filter": "http://10.88.0.1:9000",
})  # fmt: skip


@pytest.mark.parametrize(
    ("sleep_after", "viewers", "active_at", "sleeps"),
    [
        (1800, 0, "2026-12-07T11:00:00Z", True),
        (1800, 0, "2026-12-07T11:40:00Z", False),  # 20 minutes only
        (1800, 2, "2026-12-07T00:00:00Z", False),  # tabs are open
        (1800, None, "2026-12-07T00:00:00Z", False),  # unknown: never on a guess
        (None, 0, "2026-12-01T00:00:00Z", False),  # never
        (1800, 0, None, False),
    ],
)
def test_a_preview_sleeps_only_when_nobody_looked_for_its_sleep_after(
    sleep_after, viewers, active_at, sleeps
):
    assert (
        should_sleep(now=NOW, sleep_after=sleep_after, viewers=viewers, active_at=active_at)
        is sleeps
    )


@pytest.mark.parametrize(("waited_seconds_ago", "sleeps"), [(5, False), (59, False), (61, True)])
def test_a_visitor_at_the_waker_keeps_it_awake_a_minute_however_short_its_sleep_after(
    waited_seconds_ago, sleeps
):
    """The tab that woke it connects only once it serves; the sleep-after alone (4 s here)
    would put it back to sleep while that page still loads."""
    waited_at = NOW - timedelta(seconds=waited_seconds_ago)
    idle = should_sleep(now=NOW, sleep_after=4, viewers=0, active_at="2026-12-07T11:00:00Z",
                        waited_at=waited_at)  # fmt: skip
    assert idle is sleeps


def _settings(router: str = "ingress", access: str = "public", sleep_after: str = ""):  # type: ignore[no-untyped-def]
    target = make_target(repository="acme/shop", repo_url=None, branch="main", pr=7, sha=None)
    return build_settings({"domain": "previews.test", "router": router, "access": access,
                           "sleep-after": sleep_after}, target)  # fmt: skip


def test_sleep_after_is_a_duration_or_never_and_defaults_to_30_minutes():
    assert _settings().sleep_after == 1800
    assert _settings(sleep_after="2h").sleep_after == 7200
    assert _settings(sleep_after="never").sleep_after is None
    with pytest.raises(
        InputError, match="sleep-after: expected a duration such as 30m or 2h, or never"
    ):
        _settings(sleep_after="soon")


def _middlewares(router: str, access: str, waker: Waker | None):  # type: ignore[no-untyped-def]
    settings = _settings(router, access)
    resolved = resolve_access(
        settings.access, sign_in=TRAEFIK, repository="acme/shop", owner_is_org=True
    )
    objects = render_manifests(
        settings, webhook_key="k", access=resolved, sign_in=TRAEFIK, waker=waker
    )
    for obj in objects:
        validate_object(obj)
    return objects, {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}


@pytest.mark.parametrize("router", ["ingress", "gateway-api"])
def test_a_public_preview_that_may_sleep_routes_through_the_waker(router):
    objects, middlewares = _middlewares(router, "public", WAKER)
    wake = middlewares["acme-shop-pr-7-wake"]["errors"]
    assert wake["status"] == ["503"]
    assert wake["service"] == {
        "name": "streamlit-preview-hook",
        "namespace": "preview-system",
        "port": 80,
    }
    assert wake["query"] == "/wake/previews/acme-shop-pr-7"
    assert [m["name"] for m in middlewares["acme-shop-pr-7-access"]["chain"]["middlewares"]] == [
        "acme-shop-pr-7-wake"
    ]
    route = objects[-1]
    assert route["kind"] in ("Ingress", "HTTPRoute") and "acme-shop-pr-7-access" in str(route)


def test_the_waker_comes_after_the_sign_in_so_an_anonymous_visit_wakes_nothing():
    _, middlewares = _middlewares("ingress", "org", WAKER)
    chain = [m["name"] for m in middlewares["acme-shop-pr-7-access"]["chain"]["middlewares"]]
    assert chain[-1] == "acme-shop-pr-7-wake"
    assert any(name.startswith("acme-shop-pr-7-sign-in-") for name in chain[:-1])


def test_without_a_waker_no_wake_middleware_is_rendered():
    _, middlewares = _middlewares("ingress", "public", None)
    assert middlewares == {}
