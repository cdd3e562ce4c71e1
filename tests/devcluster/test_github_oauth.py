"""The development cluster's GitHub stand-in, in process: the OAuth dance oauth2-proxy makes,
the user API it reads, and the repository checks the receiver asks with its service token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from devcluster.github_oauth import SERVICE_TOKEN_FILE_CONTENT, create_app


def signed_in_token(client: TestClient, login: str) -> str:
    answer = client.get(
        "/login/oauth/authorize",
        params={"login": login, "redirect_uri": "https://auth.previews.test/oauth2/callback",
                "state": "s1"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    token = client.post("/login/oauth/access_token", data={"code": query["code"][0]}).json()
    return token["access_token"]


def test_a_signed_in_member_reads_their_user_orgs_and_teams():
    client = TestClient(create_app())
    headers = {"Authorization": f"token {signed_in_token(client, 'member')}"}
    assert client.get("/user", headers=headers).json()["login"] == "member"
    assert client.get("/user/orgs", headers=headers).json() == [{"login": "acme"}]
    assert client.get("/user/orgs", params={"page": "2"}, headers=headers).json() == []
    teams = client.get("/user/teams", headers=headers).json()
    assert [(t["organization"]["login"], t["slug"]) for t in teams] == [("acme", "reviewers")]
    assert client.get("/user/emails", headers=headers).json()[0]["verified"] is True


def test_a_code_works_once_and_a_wrong_token_is_refused():
    client = TestClient(create_app())
    answer = client.get("/login/oauth/authorize", follow_redirects=False,
                        params={"login": "outsider", "redirect_uri": "https://a.test/cb"})  # fmt: skip
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    assert "access_token" in client.post("/login/oauth/access_token", data={"code": code}).json()
    again = client.post("/login/oauth/access_token", data={"code": code}).json()
    assert again == {"error": "bad_verification_code"}
    assert client.get("/user", headers={"Authorization": "token gho_forged"}).status_code == 401
    assert client.get("/", headers={"Authorization": "token gho_forged"}).status_code == 401


def test_repository_checks_need_the_service_token():
    client = TestClient(create_app())
    service = {"Authorization": f"token {SERVICE_TOKEN_FILE_CONTENT}"}
    assert client.get("/repos/acme/app/collaborators/member", headers=service).status_code == 204
    assert client.get("/repos/acme/app/collaborators/outsider", headers=service).status_code == 404
    permission = client.get("/repos/acme/private-app/collaborators/outsider/permission",
                            headers=service).json()  # fmt: skip
    assert permission["permission"] == "none"
    assert client.get("/repos/acme/app/collaborators/member").status_code == 401
