"""The development cluster's shared sign-in: oauth2-proxy with its GitHub provider, pointed at a
GitHub stand-in (devcluster/github_oauth.py), both host processes.

What the cluster declares about them comes from the chart (devcluster/chart.py): the ConfigMap
`streamlit-preview-sign-in` in each preview namespace, the Service `preview-sign-in` in
preview-system (here an EndpointSlice to the host process), and the route of `auth.<domain>`.
Secrets (the client secret, the cookie secret) are in a config file of mode 600, never in
arguments.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

import httpx

from devcluster import binaries
from devcluster.controlplane import ControlPlane, spawn, wait_until
from devcluster.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
PORT = 4180
SERVICE = "preview-sign-in"
CONFIGMAP = "streamlit-preview-sign-in"
REFUSED_PAGE = ROOT / "charts" / "streamlit-preview" / "files" / "refused.html"


def start_stand_in(plane: ControlPlane, *, detach: bool) -> str:
    """The GitHub stand-in on a loopback port; returns its base URL (GITHUB_OAUTH_URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spawn("github-oauth", [sys.executable, "-m", "devcluster.github_oauth", "--listen", f"127.0.0.1:{port}"],
          plane.state, detach=detach, cwd=ROOT)  # fmt: skip
    wait_until(lambda: httpx.get(f"{url}/login/oauth/authorize", timeout=2).status_code == 200,
               30, "github-oauth", plane.state)  # fmt: skip
    return url


def start_proxy(
    plane: ControlPlane, *, address: str, domain: str, github: str, detach: bool
) -> None:
    """oauth2-proxy on `address:4180`, the cookie for every host under `domain`."""
    folder = plane.state / "sign-in"
    pages = folder / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    shutil.copy(REFUSED_PAGE, pages / "refused.html")
    config = folder / "oauth2-proxy.cfg"
    config.touch(mode=0o600)
    lines = {
        "http_address": f"{address}:{PORT}",
        "provider": "github",
        "client_id": "streamlit-preview-development",
        "client_secret": secrets.token_hex(20),
        "cookie_secret": secrets.token_hex(16),
        "cookie_domains": [f".{domain}"],
        "whitelist_domains": [f".{domain}"],
        "cookie_secure": True,
        "redirect_url": f"https://auth.{domain}/oauth2/callback",
        "login_url": f"{github}/login/oauth/authorize",
        "redeem_url": f"{github}/login/oauth/access_token",
        "validate_url": f"{github}/",
        "email_domains": ["*"],
        "reverse_proxy": True,
        "skip_provider_button": True,
        "set_xauthrequest": True,
        "upstreams": ["static://202", f"file://{pages}/#/_preview_access/"],
        # Only Traefik may say which host and path a request was for; no skip-auth route.
        "trusted_proxy_ips": [address, "127.0.0.1"],
        # Group membership is read at sign-in: a session lasts an hour, then signs in again.
        "cookie_expire": "1h",
    }
    config.write_text("".join(f"{key} = {_toml(value)}\n" for key, value in lines.items()))
    program = binaries.build(["oauth2-proxy"])["oauth2-proxy"]
    spawn("oauth2-proxy", [str(program), f"--config={config}"], plane.state, detach=detach)
    wait_until(lambda: httpx.get(f"http://{address}:{PORT}/ping", timeout=2).status_code == 200,
               30, "oauth2-proxy", plane.state)  # fmt: skip


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_access_check(
    plane: ControlPlane, *, address: str, port: int, github: str, namespaces: str, detach: bool
) -> str:
    """The webhook receiver as a host process, for `access: collaborators` (its
    `/access/collaborators/...`, asking the GitHub stand-in with a service token) and for the
    sign-in's cookies (its `/access/strip-cookies`), over every preview namespace."""
    from devcluster.github_oauth import SERVICE_TOKEN_FILE_CONTENT

    folder = plane.state / "access-check"
    folder.mkdir(exist_ok=True)
    (folder / "webhook-secret").write_text(secrets.token_hex(16))
    (folder / "git-token").write_text(SERVICE_TOKEN_FILE_CONTENT)
    for secret in folder.iterdir():
        secret.chmod(0o600)
    spawn("access-check", [sys.executable, "-m", "streamlit_preview", "hook", "--listen", f"{address}:{port}",
                           "--secret-file", str(folder / "webhook-secret"), "--backend", "kubernetes",
                           "--kubeconfig", str(plane.kubeconfig_path), "--namespace", namespaces,
                           "--git-token-file", str(folder / "git-token"), "--github-api-url", github,
                           "--sleep-check", "2s"],
          plane.state, detach=detach, cwd=ROOT)  # fmt: skip
    url = f"http://{address}:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200,
        30,
        "access-check",
        plane.state,
    )
    return url
