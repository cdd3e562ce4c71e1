"""The request's `Cookie` header without the sign-in's cookies, before it reaches an app.

The shared sign-in's session cookie is set for the whole preview domain, so every preview's
request carries it. An app can read its request's cookies (Streamlit's `st.context.cookies`),
and a session replayed elsewhere would open every other preview its visitor may see. The last
step of a protected preview's Traefik chain asks the receiver for the header without them
(`GET /access/strip-cookies`), and Traefik's `authResponseHeaders: [Cookie]` puts that in place
of the original: the sign-in's cookies never reach the app; Streamlit's own (`_streamlit_xsrf`)
and the app's do.

Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

# oauth2-proxy's default cookie name; it splits a long session into `<name>_0`, `<name>_1`...
# and keeps its CSRF state in `<name>_csrf` (or `<name>_<hash>_csrf`).
SIGN_IN_COOKIE = "_oauth2_proxy"
STRIP_COOKIES_PATH = "/access/strip-cookies"  # the receiver's endpoint


def is_sign_in_cookie(name: str, sign_in_names: Iterable[str]) -> bool:
    """`name` is one of the sign-in's cookies: one of `sign_in_names` or a part of one."""
    return any(name == base or name.startswith(base + "_") for base in sign_in_names)


def without_sign_in(header: str, sign_in_names: Iterable[str] = (SIGN_IN_COOKIE,)) -> str:
    """`header` (a `Cookie` request header) minus the sign-in's cookies, the rest unchanged."""
    names = tuple(sign_in_names)
    kept = []
    for pair in header.split(";"):
        name = pair.split("=", 1)[0].strip()
        if pair.strip() and not is_sign_in_cookie(name, names):
            kept.append(pair.strip())
    return "; ".join(kept)
