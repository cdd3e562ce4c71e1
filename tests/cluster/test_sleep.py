"""Idle previews sleep, and wake on the first visit: on the development cluster, through
Traefik, in a real browser, with the receiver (a host process here, `--sleep-check 2s`)
putting idle previews to sleep and waking them from the router's error page."""

from __future__ import annotations

import time

import pytest

from streamlit_preview import lifecycle
from streamlit_preview.environment import Status
from tests.cluster.conftest import NAMESPACE
from tests.cluster.test_edge import APP, _sign_in_as
from tests.fixtures.edge import router_client, wait_for_route

pytestmark = [pytest.mark.cluster, pytest.mark.browser]


def _pods(kube, environment: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with kube.client() as client:
        return client.get(f"/api/v1/namespaces/{NAMESPACE}/pods",
                          params={"labelSelector": f"app.kubernetes.io/instance={environment}"}).json()["items"]  # fmt: skip


def _wait_asleep(backend, kube, environment: str, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {e.environment: e for e in backend.list()}
        if found[environment].status is Status.SLEEPING and not _pods(kube, environment):
            assert found[environment].sleeping_since is not None
            return
        time.sleep(1)
    pytest.fail(f"{environment} did not go to sleep within {timeout:.0f} s")


def test_an_idle_preview_sleeps_a_push_waits_and_a_visit_wakes_it_at_the_deep_link(
    remote, previews, reviewer_browser, edge, kube
):
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    backend, open_preview = previews
    settings, opened = open_preview(61, router="ingress", access="public", **{"sleep-after": "4s"})
    _wait_asleep(backend, kube, settings.environment)

    # A push while asleep does not wake it: the workflow's sync says it sleeps.
    head = remote.commit({"streamlit_app.py": APP.format(n=2)})
    synced = lifecycle.sync_environment(backend, settings, lambda _: None)
    assert synced.status is Status.SLEEPING
    time.sleep(3)
    assert _pods(kube, settings.environment) == []

    # A visit wakes it, and lands on the deep link asked for, at the branch head.
    deep_link = opened.url + "?tab=charts"
    page = reviewer_browser.new_page()
    started = time.monotonic()
    page.goto(deep_link)
    page.get_by_text("version 2").wait_for(timeout=60_000)
    woke_in = time.monotonic() - started
    assert page.url == deep_link
    assert woke_in < 30, woke_in
    env = {e.environment: e for e in backend.list()}[settings.environment]
    assert env.status is Status.RUNNING
    assert head  # the commit pushed while it slept is what the page shows (version 2)
    page.close()


def test_an_anonymous_visit_to_a_protected_sleeping_preview_wakes_nothing(
    remote, previews, edge, kube
):
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    backend, open_preview = previews
    settings, opened = open_preview(62, router="gateway-api", **{"sleep-after": "4s"})  # org:acme
    assert opened.access == "org:acme"
    _wait_asleep(backend, kube, settings.environment)
    with router_client(edge) as client:
        for _ in range(3):
            anonymous = wait_for_route(client, opened.url, want=302)
            assert anonymous.status_code == 302
            assert anonymous.headers["location"].startswith(edge["GITHUB_OAUTH_URL"])
            time.sleep(1)
    time.sleep(3)
    assert _pods(kube, settings.environment) == []  # still asleep
    env = {e.environment: e for e in backend.list()}[settings.environment]
    assert env.status is Status.SLEEPING


def test_a_signed_in_visit_wakes_a_protected_preview(
    remote, previews, reviewer_browser, edge, kube
):
    remote.commit({"streamlit_app.py": APP.format(n=3)})
    backend, open_preview = previews
    settings, opened = open_preview(63, router="gateway-api", **{"sleep-after": "4s"})
    _wait_asleep(backend, kube, settings.environment)
    context = reviewer_browser.new_context()
    page = context.new_page()
    _sign_in_as(page, "member", opened.url)
    page.get_by_text("version 3").wait_for(timeout=60_000)
    context.close()
