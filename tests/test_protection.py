"""protection.py: a protected preview is reported protected only when the protection acts."""

from __future__ import annotations

import pytest

from streamlit_preview.protection import envoy_gap, istio_gap, looks_like_the_app


def pod(name="p", containers=("app",), annotations=None, labels=None):  # type: ignore[no-untyped-def]
    return {"metadata": {"name": name, "annotations": annotations or {}, "labels": labels or {}},
            "spec": {"containers": [{"name": c} for c in containers]}}  # fmt: skip


@pytest.mark.parametrize(
    ("pods", "service", "missing"),
    [
        ([pod(containers=("app", "istio-proxy"))], None, None),
        (
            [pod(annotations={"ambient.istio.io/redirection": "enabled"})],
            {"metadata": {"labels": {"istio.io/use-waypoint": "waypoint"}}},
            None,
        ),
        (
            [pod(annotations={"ambient.istio.io/redirection": "enabled"})],
            None,
            "without a waypoint",
        ),
        ([pod()], None, "no Istio sidecar"),
        ([], None, "no pod"),
    ],
)
def test_istio_enforces_only_where_a_proxy_serves_the_pod(pods, service, missing):
    gap = istio_gap(pods, service)
    assert (gap is None) if missing is None else (missing in (gap or ""))


def test_envoy_gateway_enforces_only_an_accepted_policy():
    accepted = {"status": {"ancestors": [{"conditions": [{"type": "Accepted", "status": "True"}]}]}}
    refused = {
        "status": {
            "ancestors": [
                {"conditions": [{"type": "Accepted", "status": "False", "message": "bad extAuth"}]}
            ]
        }
    }
    assert envoy_gap(accepted) is None
    assert "bad extAuth" in (envoy_gap(refused) or "")
    assert "is the Gateway served by Envoy Gateway" in (envoy_gap({"status": {}}) or "")
    assert envoy_gap(None) == "the SecurityPolicy is gone"


def test_only_the_apps_own_page_counts_as_getting_the_app():
    page = '<html><head><title>Streamlit</title><script src="/static/js/index.abc.js"></script>'
    assert looks_like_the_app(200, page)
    assert not looks_like_the_app(302, "")
    assert not looks_like_the_app(200, "<h1>Sign in with GitHub</h1>")
    assert not looks_like_the_app(403, page)


def test_an_anonymous_request_that_gets_the_app_is_a_gap_and_an_unreachable_route_is_skipped():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from streamlit_preview.backends.kubernetes import _anonymous_gets_the_app

    class App(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html><head><title>Streamlit</title></head></html>")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    said: list[str] = []
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        assert (
            _anonymous_gets_the_app(url, said.append)
            == f"an anonymous request to {url} got the app"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert _anonymous_gets_the_app(f"http://127.0.0.1:{server.server_port}/", said.append) is None
    assert said and "the anonymous check was skipped" in said[-1]
