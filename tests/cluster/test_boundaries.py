"""A pull request's author reaches only their own preview: the boundaries, attacked on the
development cluster that the chart installed (namespaces per repository, identities from
GitHub's OIDC tokens, the admission policy).

The workflow's credential here is what GitHub gives a job with `id-token: write`: a token from
the OIDC stand-in that the API server trusts, asked the way the toolkit asks it."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from tests.fixtures.action import ActionRun

pytestmark = pytest.mark.cluster


@pytest.fixture
def namespaces(edge) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(pair.split("=", 1) for pair in edge["PREVIEW_NAMESPACES"].split(","))


def oidc_token(edge, repository: str, audience: str = "streamlit-preview") -> str:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{edge['GITHUB_OIDC_URL']}/token",
                       params={"repository": repository, "audience": audience},
                       headers={"Authorization": "Bearer runner-request-token"})  # fmt: skip
    answer.raise_for_status()
    return answer.json()["value"]


def test_a_workflow_token_signs_in_as_its_repository_and_reaches_its_namespace_only(
    kube, edge, namespaces
):
    token = oidc_token(edge, "acme/app")
    with kube.client(token) as client:
        review = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})  # fmt: skip
        user = review.json()["status"]["userInfo"]
        assert user["username"] == "github:acme/app"
        assert "github:acme" in user["groups"]
        own = namespaces["acme/app"]
        assert client.get(f"/api/v1/namespaces/{own}/secrets").status_code == 200
        for namespace in (namespaces["acme/other"], "preview-system", "previews", "kube-system"):
            for kind in ("secrets", "configmaps", "services"):
                answer = client.get(f"/api/v1/namespaces/{namespace}/{kind}")
                assert answer.status_code == 403, (namespace, kind)
        # The platform: its secrets, the sign-in's configuration, the policies and RBAC.
        assert client.get("/api/v1/namespaces/preview-system/secrets").status_code == 403
        patch = client.patch(f"/api/v1/namespaces/{own}/resourcequotas/previews", json={"spec": {"hard": {"pods": "999"}}},
                             headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
        assert patch.status_code == 403
        binding = client.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{own}/rolebindings", json={
            "metadata": {"name": "mine"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "github:acme/app", "apiGroup": "rbac.authorization.k8s.io"}]})  # fmt: skip
        assert binding.status_code == 403
        assert (
            client.get(
                "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
            ).status_code
            == 403
        )

    # A token for another audience, or unsigned by the issuer, signs in no one.
    with kube.client(oidc_token(edge, "acme/app", audience="someone-else")) as client:
        assert client.get(f"/api/v1/namespaces/{namespaces['acme/app']}/secrets").status_code == 401
    header, claims, _ = token.split(".")
    forged = claims.replace(
        claims, base64.urlsafe_b64encode(b'{"repository":"acme/other"}').decode().rstrip("=")
    )
    with kube.client(f"{header}.{forged}.AAAA") as client:
        assert (
            client.get(f"/api/v1/namespaces/{namespaces['acme/other']}/secrets").status_code == 401
        )


def test_the_admission_policy_refuses_objects_that_are_not_the_repositorys(kube, edge, namespaces):
    own = namespaces["acme/app"]
    secrets = f"/api/v1/namespaces/{own}/secrets"
    with kube.client() as admin:  # an object of the namespace that is not acme/app's preview
        admin.delete(f"{secrets}/platform-owned")
        made = admin.post(secrets, json={"metadata": {"name": "platform-owned",
                                         "labels": {"streamlit-preview.dev/repository": "acme.other"}}})  # fmt: skip
        assert made.status_code == 201, made.text
    with kube.client(oidc_token(edge, "acme/app")) as client:
        unlabelled = client.post(secrets, json={"metadata": {"name": "no-label"}})
        assert unlabelled.status_code == 403
        assert "streamlit-preview.dev/repository=acme.app" in unlabelled.json()["message"]
        posing = client.post(secrets, json={"metadata": {"name": "posing", "labels": {"streamlit-preview.dev/repository": "acme.other"}}})  # fmt: skip
        assert posing.status_code == 403
        takeover = client.patch(f"{secrets}/platform-owned", json={"metadata": {"labels": {"streamlit-preview.dev/repository": "acme.app"}}},
                                headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
        assert takeover.status_code == 403
        assert client.delete(f"{secrets}/platform-owned").status_code == 403
        name = f"mine-{uuid.uuid4().hex[:8]}"
        mine = client.post(secrets, json={"metadata": {"name": name, "labels": {"streamlit-preview.dev/repository": "acme.app"}}})  # fmt: skip
        assert mine.status_code == 201, mine.text
        assert client.delete(f"{secrets}/{name}").status_code == 200
    with kube.client() as admin:
        admin.delete(f"{secrets}/platform-owned")


def test_the_action_opens_and_closes_with_the_workflows_oidc_token(
    tmp_path, github, remote, node_git, kube, edge, namespaces
):
    """No kubeconfig: `cluster-url`, `cluster-ca` and the job's OIDC request. No `domain` or
    `router`: the cluster's defaults (the chart's ConfigMap) apply."""
    run = ActionRun(tmp_path, github, {}, node_git.url("remote.git"), "acme/app")
    server = kube.server
    ca = base64.b64decode(kube.ca_data).decode()
    run.defaults = {"kubeconfig": "", "domain": "", "cluster-url": server, "cluster-ca": ca,
                    "namespace": namespaces["acme/app"], "image": kube.image,
                    "wait-timeout": "3m", "access": "public"}  # fmt: skip
    run.environ = {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{edge['GITHUB_OIDC_URL']}/token?repository=acme/app",
                   "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token"}  # fmt: skip
    opened = run(run.event("opened", remote.head()))
    try:
        assert opened.returncode == 0, opened.stdout + opened.stderr
        environment = opened.outputs["environment"]
        assert opened.outputs["namespace"] == namespaces["acme/app"]
        assert opened.outputs["url"] == f"https://{environment}.{edge['PREVIEW_DOMAIN']}/"
        with kube.client() as admin:
            routes = admin.get(
                f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespaces['acme/app']}/httproutes/{environment}"
            )
            assert routes.status_code == 200  # router: gateway-api, from the cluster's defaults
        token_lines = [ln for ln in opened.stdout.splitlines() if ln.startswith("::add-mask::")]
        assert token_lines  # the OIDC token was masked
    finally:
        closed = run(run.event("closed", "0" * 40), event_name="pull_request_target")
    assert closed.returncode == 0, closed.stdout + closed.stderr


def test_without_the_id_token_permission_the_action_says_what_is_missing(
    tmp_path, github, node_git, kube, namespaces
):
    run = ActionRun(tmp_path, github, {}, node_git.url("remote.git"), "acme/app")
    run.defaults = {
        "kubeconfig": "",
        "cluster-url": kube.server,
        "namespace": namespaces["acme/app"],
    }
    result = run(run.event("opened", "0" * 40))
    assert result.returncode == 2
    assert "id-token: write" in result.stdout + result.stderr
