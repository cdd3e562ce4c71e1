"""A GitHub stand-in for OAuth sign-in: what oauth2-proxy's GitHub provider calls, no more.

GitHub itself is not reachable from the development cluster, so this serves the OAuth App
endpoints (`/login/oauth/authorize`, `/login/oauth/access_token`) and the four API calls the
provider makes after a sign-in (`/user`, `/user/emails`, `/user/orgs`, `/user/teams`).

The authorize page signs in the user named by its `login` query parameter, without a form, so
a browser test picks who it is. Without `login` it lists the users as links.

Users (also in examples/cluster/README.md):
- `member`: in the organisation `acme` and its team `acme/reviewers`;
- `outsider`: in no organisation.

Run: `python -m devcluster.github_oauth --listen 127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import html
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class User:
    login: str
    id: int
    orgs: tuple[str, ...] = ()
    teams: tuple[tuple[str, str], ...] = ()  # (org, slug)

    @property
    def email(self) -> str:
        return f"{self.login}@users.previews.test"


USERS = {
    "member": User("member", 1001, orgs=("acme",), teams=(("acme", "reviewers"),)),
    "outsider": User("outsider", 1002),
}
# Repository permissions, as `GET /repos/{owner}/{repo}/collaborators/{login}/permission` tells
# them: `member` may write to every repository of `acme`; nobody else is a collaborator.
SERVICE_TOKEN_FILE_CONTENT = "ghs_development_cluster_service_token"


# As on GitHub, the permission endpoint says `read` for anyone on a public repository; the
# collaborator check (`GET /repos/{owner}/{repo}/collaborators/{login}`) answers 204 only for
# collaborators. Repositories whose name contains "private" are private, the others public.


def is_collaborator(owner: str, login: str) -> bool:
    return owner.lower() == "acme" and login == "member"


def permission_of(owner: str, repo: str, login: str) -> str:
    if is_collaborator(owner, login):
        return "write"
    return "none" if "private" in repo.lower() else "read"


@dataclass
class Store:
    """Codes and tokens handed out, in memory: each lives as long as the process."""

    codes: dict[str, str] = field(default_factory=dict)  # code → login
    tokens: dict[str, str] = field(default_factory=dict)  # access token → login


BAD_CREDENTIALS = {"message": "Bad credentials"}


class StandIn:
    """GitHub's sign-in pages and the API calls oauth2-proxy and the receiver make."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        login = query.get("login")
        if not login:
            links = "".join(
                f'<li><a href="?{html.escape(urlencode({**query, "login": name}))}">{name}</a></li>'
                for name in USERS
            )
            return HTMLResponse(f"<h1>Sign in to the GitHub stand-in as</h1><ul>{links}</ul>")
        if login not in USERS:
            return HTMLResponse(f"no such user: {html.escape(login)}", status_code=404)
        if not redirect_uri:
            return HTMLResponse("redirect_uri is required", status_code=400)
        code = secrets.token_hex(10)
        self.store.codes[code] = login
        separator = "&" if "?" in redirect_uri else "?"
        target = (
            redirect_uri + separator + urlencode({"code": code, "state": query.get("state", "")})
        )
        return RedirectResponse(target, status_code=302)

    async def access_token(self, request: Request) -> Response:
        form = await request.form()
        login = self.store.codes.pop(str(form.get("code", "")), None)
        if login is None:
            return JSONResponse({"error": "bad_verification_code"}, status_code=200)
        token = "gho_" + secrets.token_hex(18)
        self.store.tokens[token] = login
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "scope": "user:email,read:org"}
        )

    def _user(self, request: Request) -> User | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer = scheme.lower() in ("token", "bearer")
        login = self.store.tokens.get(token.strip()) if bearer else None
        return USERS.get(login) if login else None

    async def signed_in(self, request: Request) -> Response:
        """What `/user/...` answers the signed-in user (401 without a valid token)."""
        found = self._user(request)
        if found is None:
            return JSONResponse(BAD_CREDENTIALS, 401)
        first_page = request.query_params.get("page", "1") == "1"
        answers: dict[str, Any] = {
            "/": {},
            "/user": {"login": found.login, "id": found.id, "email": found.email},
            "/user/emails": [{"email": found.email, "primary": True, "verified": True}],
            "/user/orgs": [{"login": o} for o in found.orgs] if first_page else [],
            "/user/teams": [
                {"name": s, "slug": s, "organization": {"login": o}} for o, s in found.teams
            ] if first_page else [],
        }  # fmt: skip
        return JSONResponse(answers[request.url.path])

    @staticmethod
    def _service_token(request: Request) -> bool:
        token = request.headers.get("authorization", "").partition(" ")[2]
        return token.strip() == SERVICE_TOKEN_FILE_CONTENT

    async def permission(self, request: Request) -> Response:
        """A repository's permission for a user, asked with the cluster's service token."""
        if not self._service_token(request):
            return JSONResponse(BAD_CREDENTIALS, 401)
        login, params = request.path_params["login"], request.path_params
        level = permission_of(params["owner"], params["repo"], login)
        return JSONResponse({"permission": level, "role_name": level, "user": {"login": login}})

    async def collaborator(self, request: Request) -> Response:
        """204 for a collaborator of the repository, 404 for anyone else."""
        if not self._service_token(request):
            return JSONResponse(BAD_CREDENTIALS, 401)
        if is_collaborator(request.path_params["owner"], request.path_params["login"]):
            return Response(status_code=204)
        return JSONResponse({"message": "Not Found"}, 404)


def create_app(store: Store | None = None) -> Starlette:
    stand_in = StandIn(store or Store())
    signed_in = [Route(path, stand_in.signed_in)
                 for path in ("/", "/user", "/user/emails", "/user/orgs", "/user/teams")]  # fmt: skip
    return Starlette(
        routes=[
            Route("/repos/{owner}/{repo}/collaborators/{login}/permission", stand_in.permission),
            Route("/repos/{owner}/{repo}/collaborators/{login}", stand_in.collaborator),
            Route("/login/oauth/authorize", stand_in.authorize),
            Route("/login/oauth/access_token", stand_in.access_token, methods=["POST"]),
            *signed_in,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    uvicorn.run(create_app(), host=host, port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
