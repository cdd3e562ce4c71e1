"""cookies.py and the receiver's endpoint: the sign-in's cookies never reach the app."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from streamlit_preview.cookies import STRIP_COOKIES_PATH, without_sign_in
from streamlit_preview.hook import Receiver, create_app


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("_oauth2_proxy=abc", ""),
        ("_oauth2_proxy=abc; _streamlit_xsrf=2|x|y|1", "_streamlit_xsrf=2|x|y|1"),
        ("theme=dark; _oauth2_proxy_0=a; _oauth2_proxy_1=b; lang=en", "theme=dark; lang=en"),
        ("_oauth2_proxy_csrf=s; _oauth2_proxy_8a1f_csrf=t; app=1", "app=1"),
        ("_oauth2_proxyish=1; my_oauth2_proxy=2", "_oauth2_proxyish=1; my_oauth2_proxy=2"),
        ("a=1;b=2", "a=1; b=2"),
        ("", ""),
    ],
)
def test_only_the_sign_ins_cookies_are_taken_away(header, kept):
    assert without_sign_in(header) == kept


class _NoBackend:
    def list(self):  # pragma: no cover - never asked here
        raise AssertionError("the cookie filter touches no preview")


@pytest.fixture
def client():
    receiver = Receiver(secret=b"k", backend=_NoBackend())  # type: ignore[arg-type]
    return TestClient(create_app(receiver))


def test_the_receiver_answers_the_header_the_app_gets(client):
    answer = client.get(STRIP_COOKIES_PATH,
                        headers={"Cookie": "_oauth2_proxy=session; _streamlit_xsrf=t; app=1"})  # fmt: skip
    assert answer.status_code == 200
    assert answer.headers["cookie"] == "_streamlit_xsrf=t; app=1"


def test_nothing_left_means_no_cookie_header_so_traefik_drops_it(client):
    answer = client.get(STRIP_COOKIES_PATH, headers={"Cookie": "_oauth2_proxy=session"})
    assert answer.status_code == 200
    assert "cookie" not in answer.headers


def test_a_renamed_sign_in_cookie_is_named_in_the_address(client):
    answer = client.get(f"{STRIP_COOKIES_PATH}?name=_sso",
                        headers={"Cookie": "_sso=s; _sso_csrf=c; _oauth2_proxy=x"})  # fmt: skip
    assert answer.headers["cookie"] == "_oauth2_proxy=x"
