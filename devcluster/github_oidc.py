"""A GitHub Actions OIDC stand-in that the development cluster's API server trusts.

GitHub is not reachable here, so this serves what a workflow and the API server use of
`https://token.actions.githubusercontent.com`:
- `/.well-known/openid-configuration` and `/.well-known/jwks`: issuer discovery and its keys,
  which kube-apiserver's structured authentication (`--authentication-config`) reads;
- `GET /token?repository=R&audience=A` with any bearer token: the runner's token endpoint shape
  (`ACTIONS_ID_TOKEN_REQUEST_URL`), answering `{"value": "<JWT>"}` with GitHub's claims for
  repository R (`sub`, `repository`, `repository_owner`, `ref`, `event_name`,
  `job_workflow_ref`, ...). Optional `event_name`, `ref`, `pr` shape the claims.

The issuer is HTTPS with its own self-signed certificate (the API server only fetches keys over
HTTPS; its authentication config carries the certificate as the CA). The token endpoint is
also served over plain HTTP on a second port, as the runner's own endpoint is a service apart
from the issuer: that is `GITHUB_OIDC_URL`.

Run: `python -m devcluster.github_oidc --issuer 127.0.0.1:PORT --listen 127.0.0.1:PORT2 --state DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import subprocess
import time
import uuid
import zlib
from pathlib import Path

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN_SECONDS = 600  # GitHub's are short-lived too; the action asks once per run
KEY_ID = "streamlit-preview-development"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_for(issuer: str, *, repository: str, audience: str, event_name: str, ref: str,
               now: float) -> dict[str, object]:  # fmt: skip
    """GitHub's claims for a workflow run of `repository` (a `pull_request` run by default)."""
    owner = repository.split("/", 1)[0]
    return {
        "iss": issuer, "aud": audience, "jti": str(uuid.uuid4()),
        "sub": f"repo:{repository}:{event_name}" if event_name == "pull_request"
        else f"repo:{repository}:ref:{ref}",
        "repository": repository, "repository_owner": owner,
        "repository_id": str(zlib.crc32(repository.encode())),
        "repository_owner_id": str(zlib.crc32(owner.encode())),
        "repository_visibility": "private", "actor": "member", "actor_id": "1001",
        "ref": ref, "ref_type": "branch", "event_name": event_name,
        "workflow": "preview", "run_id": "1", "run_number": "1", "run_attempt": "1",
        "job_workflow_ref": f"{repository}/.github/workflows/preview.yml@{ref}",
        "runner_environment": "github-hosted",
        "iat": int(now), "nbf": int(now) - 5, "exp": int(now) + TOKEN_SECONDS,
    }  # fmt: skip


def create_app(issuer: str, key: rsa.RSAPrivateKey) -> Starlette:
    numbers = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KEY_ID,
                      "n": _b64(numbers.n), "e": _b64(numbers.e)}]}  # fmt: skip
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip

    async def discovery(_: Request) -> Response:
        return JSONResponse({
            "issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"], "scopes_supported": ["openid"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref",
                                 "repository", "repository_owner", "event_name", "job_workflow_ref"],
        })  # fmt: skip

    async def keys(_: Request) -> Response:
        return JSONResponse(jwks)

    async def token(request: Request) -> Response:
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return JSONResponse({"message": "Bearer token required"}, status_code=401)
        query = request.query_params
        repository = query.get("repository", "")
        if repository.count("/") != 1:
            return JSONResponse({"message": "repository=owner/name required"}, status_code=400)
        pr = query.get("pr", "1")
        claims = claims_for(
            issuer, repository=repository, audience=query.get("audience") or f"https://github.com/{repository.split('/')[0]}",
            event_name=query.get("event_name", "pull_request"),
            ref=query.get("ref", f"refs/pull/{pr}/merge"), now=time.time(),
        )  # fmt: skip
        value = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": KEY_ID})
        return JSONResponse({"count": len(value), "value": value})

    return Starlette(routes=[
        Route("/.well-known/openid-configuration", discovery), Route("/.well-known/jwks", keys),
        Route("/token", token),
    ])  # fmt: skip


def make_certificate(state: Path, host: str) -> tuple[Path, Path]:
    """A self-signed serving certificate for `host` (an IP address): it is its own CA."""
    state.mkdir(parents=True, exist_ok=True)
    cert, key = state / "oidc.crt", state / "oidc.key"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=github-oidc-stand-in",
             "-addext", f"subjectAltName=IP:{host}"],
            check=True, capture_output=True,
        )  # fmt: skip
        key.chmod(0o600)
    return cert, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True, help="HOST:PORT of the HTTPS issuer")
    parser.add_argument("--listen", required=True, help="HOST:PORT of the plain token endpoint")
    parser.add_argument("--state", required=True, type=Path, help="where its certificate lives")
    args = parser.parse_args()
    issuer_host, _, issuer_port = args.issuer.rpartition(":")
    host, _, port = args.listen.rpartition(":")
    cert, key_file = make_certificate(args.state, issuer_host)
    app = create_app(f"https://{args.issuer}", rsa.generate_private_key(65537, 2048))
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=issuer_host, port=int(issuer_port), log_level="warning",
                                      ssl_certfile=str(cert), ssl_keyfile=str(key_file))),
        uvicorn.Server(uvicorn.Config(app, host=host, port=int(port), log_level="warning")),
    ]  # fmt: skip

    async def serve() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(serve())


if __name__ == "__main__":
    main()
