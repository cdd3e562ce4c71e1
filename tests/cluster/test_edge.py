"""The edge a reviewer meets: a preview by its host name, over https, through a real router
(Traefik, from the development cluster), in a real browser, behind a real sign-in
(oauth2-proxy against the GitHub stand-in).

Checked with Traefik: `router: ingress` and `router: gateway-api`, public and protected. The
Istio and Envoy Gateway objects are checked against their CRDs only (tests/test_access.py):
Envoy cannot be built here.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

import pytest
import yaml

from streamlit_preview import lifecycle
from tests.cluster.conftest import NAMESPACE
from tests.fixtures.edge import router_client, wait_for_route
from tests.fixtures.processes import ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.browser]
APP = "import streamlit as st\nst.title('Edge preview')\nst.write('version {n}')\n"


def quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("router", ["ingress", "gateway-api"])
def test_a_public_preview_through_the_router(router, remote, previews, reviewer_browser, edge):
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    backend, open_preview = previews
    settings, opened = open_preview(
        11 if router == "ingress" else 12, router=router, access="public"
    )
    url = opened.url
    assert url == f"https://{settings.environment}.{edge['PREVIEW_DOMAIN']}/"
    with router_client(edge) as client:
        assert wait_for_route(client, url).status_code == 200
        plain = client.get(url.replace("https://", "http://"))
        assert plain.status_code in (301, 302, 307, 308) and plain.headers["location"].startswith(
            "https://"
        )

        page = reviewer_browser.new_page()
        sockets = []
        page.on("websocket", lambda socket: sockets.append(socket))
        page.goto(url)
        page.get_by_text("version 1").wait_for(timeout=30_000)
        page.evaluate("window.__sameTab = true")

        remote.commit({"streamlit_app.py": APP.format(n=2)})
        lifecycle.sync_environment(backend, settings, quiet)
        page.get_by_text("version 2").wait_for(timeout=15_000)
        assert page.evaluate("window.__sameTab") is True  # no reload: the same tab followed
        assert len(sockets) == 1 and not sockets[0].is_closed()  # one WebSocket, still up

        # The control port is never reachable through the route, by any host name.
        for host in (urlsplit(url).hostname, f"anything.{edge['PREVIEW_DOMAIN']}"):
            status = client.get(f"https://{host}/status")
            assert "streamlit" not in status.text or "synced_at" not in status.text
            signed = client.post(f"https://{host}/sync", content=b"{}")
            assert "commit" not in signed.text

        lifecycle.close_environment(backend, settings, quiet)
        assert wait_for_route(client, url, want=404).status_code == 404


def _sign_in_as(page, login: str, deep_link: str) -> None:  # type: ignore[no-untyped-def]
    """Open the deep link; at the stand-in's authorize page, pick who signs in.

    Traefik learns a new Service's endpoints a second or two after the preview is ready (its
    providers' throttle): a page that lands on Traefik's "no available server" is reloaded,
    as a reviewer would, for at most ten seconds."""
    page.goto(deep_link)
    page.wait_for_url("**/login/oauth/authorize**", timeout=30_000)
    page.goto(page.url + f"&login={login}")
    for _ in range(20):
        if "no available server" not in page.content():
            return
        page.wait_for_timeout(500)
        page.reload()


def test_protected_previews_need_the_right_people(remote, previews, reviewer_browser, edge):
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    _, open_preview = previews
    _, org_preview = open_preview(21, router="ingress")  # default: org:acme
    _, team_preview = open_preview(22, router="gateway-api", access="team:acme/reviewers")
    assert org_preview.access == "org:acme" and team_preview.access == "team:acme/reviewers"
    deep_link = org_preview.url + "?tab=charts"

    with router_client(edge) as client:
        for url in (org_preview.url, team_preview.url):
            anonymous = wait_for_route(client, url, want=302)
            assert anonymous.status_code == 302  # sent to sign in, never the app
            assert anonymous.headers["location"].startswith(edge["GITHUB_OAUTH_URL"])
            assert "Edge preview" not in anonymous.text
        socket = client.get(org_preview.url + "_stcore/stream", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()})  # fmt: skip
        assert socket.status_code == 302  # nor its WebSocket

    member = reviewer_browser.new_context()
    page = member.new_page()
    _sign_in_as(page, "member", deep_link)
    page.wait_for_url(deep_link, timeout=30_000)  # back where they asked to go
    page.get_by_text("version 1").wait_for(timeout=30_000)  # the app ran over its WebSocket
    page.goto(team_preview.url)  # the same cookie signs them in to the other preview
    page.get_by_text("version 1").wait_for(timeout=30_000)
    assert urlsplit(page.url).hostname == urlsplit(team_preview.url).hostname
    member.close()

    outsider = reviewer_browser.new_context()
    page = outsider.new_page()
    _sign_in_as(page, "outsider", deep_link)
    page.get_by_text("not allowed to see this preview").wait_for(timeout=30_000)
    assert "version 1" not in page.content()
    outsider.close()


@pytest.mark.parametrize(("pr", "repository"), [(23, "acme/shop"), (24, "acme/private-shop")])
def test_collaborators_are_asked_of_github(
    remote, previews, reviewer_browser, edge, pr, repository
):
    """`access: collaborators`: signed in, then the webhook receiver asks GitHub (the stand-in)
    whether the user is a collaborator: `member` is, `outsider` is not. On the public
    repository GitHub's permission endpoint says `read` for `outsider` too: the collaborator
    check (204 or 404) is what keeps them out."""
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    _, open_preview = previews
    _, opened = open_preview(
        pr, repository=repository, router="gateway-api", access="collaborators"
    )
    assert opened.access == "collaborators"
    with router_client(edge) as client:
        assert wait_for_route(client, opened.url, want=302).status_code == 302
    for login, sees in (("member", True), ("outsider", False)):
        context = reviewer_browser.new_context()
        page = context.new_page()
        _sign_in_as(page, login, opened.url)
        if sees:
            page.get_by_text("version 1").wait_for(timeout=30_000)
        else:
            page.get_by_text("not allowed to see this preview").wait_for(timeout=30_000)
            assert "version 1" not in page.content()
        context.close()


def test_a_half_applied_open_is_never_public(remote, previews, kube, edge):
    """The route is applied last and references the access Middleware: a route whose
    Middleware is missing (a failed apply, a deletion) is refused by the router."""
    remote.commit({"streamlit_app.py": APP.format(n=1)})
    _, open_preview = previews
    settings, opened = open_preview(31, router="ingress")
    with router_client(edge) as client:  # protected while whole
        assert wait_for_route(client, opened.url, want=302).status_code == 302
    with kube.client() as admin:
        middlewares = f"/apis/traefik.io/v1alpha1/namespaces/{NAMESPACE}/middlewares"
        mine = admin.get(
            middlewares,
            params={"labelSelector": f"app.kubernetes.io/instance={settings.environment}"},
        )
        names = [m["metadata"]["name"] for m in mine.json()["items"]]
        assert f"{settings.environment}-access" in names
        for name in names:
            admin.delete(f"{middlewares}/{name}")
    with router_client(edge) as client:
        time.sleep(3)  # Traefik's watch sees the deletion
        for _ in range(5):
            answer = client.get(opened.url)
            assert answer.status_code != 200 and "Edge preview" not in answer.text
            time.sleep(0.5)


def test_the_cluster_reports_real_versions_and_applies_the_charts_limits(kube):
    """Built with Kubernetes' own version ldflags; the chart's quota, limits and network policy
    applied for real in every preview namespace."""
    chart = yaml.safe_load((ROOT / "charts" / "streamlit-preview" / "values.yaml").read_text())
    with kube.client() as admin:
        assert admin.get("/version").json()["gitVersion"] == "v1.36.3"
        quota = admin.get(f"/api/v1/namespaces/{NAMESPACE}/resourcequotas/previews").json()
        assert quota["spec"]["hard"]["pods"] == chart["quota"]["pods"]
        assert quota["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert admin.get(f"/api/v1/namespaces/{NAMESPACE}/limitranges/previews").status_code == 200
        policy = admin.get(
            f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies/previews-isolation"
        )
        assert policy.status_code == 200


SHOW_REQUEST = """import json
import streamlit as st
st.title("What the app sees")
seen = {"cookies": dict(st.context.cookies), "headers": dict(st.context.headers)}
st.code(json.dumps(seen), language=None)
"""
# What a client sets by itself, or what only makes sense on the connection it came on.
_NOT_REPLAYED = {"host", "content-length", "connection", "upgrade", "cookie", "accept-encoding"}


def test_what_an_app_sees_of_its_visitor_signs_no_one_in_elsewhere(
    remote, previews, reviewer_browser, edge
):
    """An app shows every cookie and header of its request. A member visits it signed in;
    everything the app saw, replayed against another protected preview, is sent to sign in.
    The sign-in's cookie is in the browser (so the test can fail), never in what the app saw;
    the app's own cookie and Streamlit's reach it."""
    remote.commit({"streamlit_app.py": SHOW_REQUEST})
    _, open_preview = previews
    _, shown = open_preview(25, router="ingress")  # org:acme
    _, other = open_preview(26, router="gateway-api", access="team:acme/reviewers")
    member = reviewer_browser.new_context()
    host = urlsplit(shown.url).hostname
    member.add_cookies([{"name": "app_cookie", "value": "kept", "domain": host, "path": "/",
                         "secure": True}])  # fmt: skip
    page = member.new_page()
    _sign_in_as(page, "member", shown.url)
    page.get_by_text("What the app sees").wait_for(timeout=30_000)
    seen = json.loads(page.locator("code").first.inner_text())
    held = {c["name"] for c in member.cookies()}
    member.close()

    assert any(name.startswith("_oauth2_proxy") for name in held)  # the browser holds a session
    assert not [name for name in seen["cookies"] if name.startswith("_oauth2_proxy")]
    assert "_oauth2_proxy" not in json.dumps(seen["headers"])
    assert seen["cookies"].get("app_cookie") == "kept"
    assert "_streamlit_xsrf" in seen["cookies"]  # uploads keep working

    replayed = {k: v for k, v in seen["headers"].items() if k.lower() not in _NOT_REPLAYED}
    replayed["Cookie"] = "; ".join(f"{k}={v}" for k, v in seen["cookies"].items())
    with router_client(edge) as client:
        for url in (other.url, shown.url):
            answer = client.get(url, headers=replayed)
            assert answer.status_code == 302, (url, answer.status_code)
            assert answer.headers["location"].startswith(edge["GITHUB_OAUTH_URL"])
            assert "What the app sees" not in answer.text
