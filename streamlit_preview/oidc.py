"""The workflow's GitHub OIDC token as the action's cluster credential: nothing long-lived in
GitHub.

The token is asked the way GitHub's toolkit asks it (`core.getIDToken`): a GET of
`ACTIONS_ID_TOKEN_REQUEST_URL` with `&audience=<aud>` and the bearer
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered `{"value": "<JWT>"}`. The runner sets both only
for jobs with `permissions: id-token: write`, and never for pull requests from forks (their
flow is approved by a label and run from `pull_request_target`: see docs/install.md). The API
server trusts GitHub's issuer and maps the token to the user `github:<owner>/<name>`, whom the
chart binds to the repository's namespace only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from .errors import InputError, ServiceError

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
NO_TOKEN = (
    "needs the workflow's OIDC token, and this job has none: give it `permissions: id-token: "
    "write` (pull requests from forks never get one: docs/install.md), or use a kubeconfig"
)


def request_token(environ: Mapping[str, str], audience: str, *, timeout: float = 30) -> str:
    """The job's OIDC token for `audience`, from the runner's token service."""
    url, bearer = environ.get(REQUEST_URL, ""), environ.get(REQUEST_TOKEN, "")
    if not url or not bearer:
        raise InputError("cluster-url", NO_TOKEN)
    joined = url + ("&" if "?" in url else "?") + urlencode({"audience": audience})
    try:
        answer = httpx.get(joined, headers={"Authorization": f"Bearer {bearer}"}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceError(f"GitHub's OIDC token service did not answer: {exc}") from None
    if answer.status_code != 200:
        raise ServiceError(f"GitHub's OIDC token service answered {answer.status_code}")
    try:
        value = answer.json()["value"]
    except (ValueError, KeyError, TypeError):
        raise ServiceError("GitHub's OIDC token service answered without a token") from None
    if not isinstance(value, str) or value.count(".") != 2:
        raise ServiceError("GitHub's OIDC token service answered something that is not a JWT")
    return value


RENEW_MARGIN_SECONDS = 60.0  # a token this close to its expiry is replaced before a request


def expires_soon(token: str, *, now: float, margin: float = RENEW_MARGIN_SECONDS) -> bool:
    """Whether the JWT `token` (its `exp`, read without checking the signature: the API server
    checks it) expires within `margin` seconds; False when it says no expiry."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - now < margin
    except (IndexError, ValueError, KeyError, TypeError):
        return False


def kubeconfig(*, server: str, ca_pem: str | None, token: str, namespace: str) -> dict:
    """A kubeconfig for the API server at `server` with the bearer `token`."""
    cluster: dict[str, object] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "preview",
        "clusters": [{"name": "preview", "cluster": cluster}],
        "users": [{"name": "workflow", "user": {"token": token}}],
        "contexts": [{"name": "preview", "context": {"cluster": "preview", "user": "workflow",
                                                     "namespace": namespace}}],
    }  # fmt: skip
