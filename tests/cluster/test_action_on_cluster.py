"""The action against the real control plane, as the runner runs it, with the example Role's token.

Real here: server-side apply and field managers, defaulting, CRD validation, Pod Security
admission (`restricted`), RBAC, Deployment → ReplicaSet → Pod, EndpointSlices, the service
proxy to the pod's control port, garbage collection. The pods run from the project image on
our node agent; GitHub is Prism in front of GitHub's OpenAPI description.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.cluster.conftest import NAMESPACE, objects_of
from tests.fixtures.action import ActionRun

pytestmark = pytest.mark.cluster
REPOSITORY = "octo/cluster-app"


@pytest.fixture
def action(tmp_path, github, sa_kubeconfig, node_git, kube):  # type: ignore[no-untyped-def]
    run = ActionRun(tmp_path, github, sa_kubeconfig, node_git.url("remote.git"), REPOSITORY)
    # Previews here are public: the sign-in tests (test_edge.py) cover protected ones.
    run.defaults = {"image": kube.image, "wait-timeout": "3m", "access": "public"}
    yield run
    closed = run(run.event("closed", "0" * 40), event_name="pull_request_target")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    # The next test reuses the pull request's names: wait until its pods are gone, not only
    # deleted (a terminating pod of the same name would be found by the next test).
    selector = "streamlit-preview.dev/repository=octo.cluster-app"
    deadline = time.monotonic() + 90
    with kube.client() as client:
        while (
            time.monotonic() < deadline
            and client.get(
                f"/api/v1/namespaces/{NAMESPACE}/pods", params={"labelSelector": selector}
            ).json()["items"]
        ):
            time.sleep(0.5)


def _pod(kube, environment: str) -> dict:  # type: ignore[no-untyped-def]
    with kube.client() as client:
        pods = client.get(f"/api/v1/namespaces/{NAMESPACE}/pods",
                          params={"labelSelector": f"app.kubernetes.io/instance={environment}"}).json()["items"]  # fmt: skip
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1, [p["metadata"]["name"] for p in pods]
    return live[0]


def _wait_gone(kube, environment: str, timeout: float = 90) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    left = objects_of(kube, environment)
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = objects_of(kube, environment)
    return left


def test_open_sync_close_through_the_real_api_server(action, remote, github, kube):
    first = remote.head()
    opened = action(action.event("opened", first))

    assert opened.returncode == 0, opened.stdout + opened.stderr
    environment = opened.outputs["environment"]
    assert opened.outputs["commit"] == first
    assert opened.outputs["url"] == f"https://{environment}.previews.example.com/"
    assert opened.outputs["namespace"] == NAMESPACE
    assert opened.outputs["deployment-id"] and opened.outputs["comment-id"]
    assert environment in opened.summary and "::group::" in opened.stdout
    token = action.kubeconfig["users"][0]["user"]["token"]
    leaks = [ln for ln in (opened.stdout + opened.stderr).splitlines()
             if ("ghs_actiontoken" in ln or token in ln) and not ln.startswith("::add-mask::")]  # fmt: skip
    assert leaks == []
    assert github.fake.statuses[int(opened.outputs["deployment-id"])] == ["in_progress", "success"]
    pod = _pod(kube, environment)
    assert pod["spec"]["nodeName"] == "preview-node"
    assert pod["status"]["podIP"].startswith("10.88.")
    comments = github.fake.comments_by_pr[7]
    assert len(comments) == 1 and "ready" in comments[0]["body"]

    second = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('pushed')\n"})
    synced = action(action.event("synchronize", second))

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert synced.outputs["commit"] == second
    assert _pod(kube, environment)["metadata"]["uid"] == pod["metadata"]["uid"], (
        "sync must not roll the pod"
    )
    assert len(github.fake.comments_by_pr[7]) == 1
    assert second[:12] in github.fake.comments_by_pr[7][0]["body"]
    assert github.fake.statuses[int(opened.outputs["deployment-id"])][-1] == "inactive"

    closed = action(action.event("closed", second), event_name="pull_request_target")

    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert _wait_gone(kube, environment) == {}
    assert "closed" in github.fake.comments_by_pr[7][0]["body"]
    assert github.fake.statuses and {states[-1] for states in github.fake.statuses.values()} == {
        "inactive"
    }


def test_open_twice_keeps_one_comment_and_switches_turn_reporting_off(action, remote, github):
    for _ in range(2):
        result = action(action.event("opened", remote.head()))
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(github.fake.comments_by_pr[7]) == 1
    github.fake.reset()
    result = action(action.event("reopened", remote.head()), comment="false", deployment="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert github.fake.requests == []
    assert result.outputs["deployment-id"] == "" and result.outputs["comment-id"] == ""


def test_reopen_unchanged_keeps_the_pod_and_a_changed_input_rolls_it(action, remote, kube):
    opened = action(action.event("opened", remote.head()))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    environment = opened.outputs["environment"]
    first = _pod(kube, environment)

    again = action(action.event("reopened", remote.head()))
    assert again.returncode == 0, again.stdout + again.stderr
    assert _pod(kube, environment)["metadata"]["uid"] == first["metadata"]["uid"]

    rolled = action(action.event("reopened", remote.head()), cpu="300m")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    pod = _pod(kube, environment)
    assert pod["metadata"]["uid"] != first["metadata"]["uid"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "300m"


def test_missing_image_fails_fast_with_its_reason_and_events(action, remote):
    started = time.monotonic()
    result = action(action.event("opened", remote.head()), image="localhost/no-such-image:1")

    assert result.returncode == 1
    assert time.monotonic() - started < 90, "a missing image must not wait out the timeout"
    assert "ImagePullBackOff" in result.stdout or "ErrImagePull" in result.stdout, result.stdout
    assert "Failed to pull image" in result.stdout, "the pod's events are shown"


def test_crashing_reloader_fails_with_crashloop_and_its_last_log_lines(action, remote, kube):
    opened = action(action.event("opened", remote.head()))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    environment = opened.outputs["environment"]
    # An administrator's change (another field manager) gives the reloader an invalid setting;
    # the action's next apply keeps it, as server-side apply keeps fields it does not own.
    patch = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": environment, "namespace": NAMESPACE},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "preview", "env": [{"name": "PREVIEW_CONTROL_PORT", "value": "not-a-port"}]}]}}}}  # fmt: skip
    with kube.client() as client:
        answer = client.patch(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{environment}",
            params={"fieldManager": "an-administrator", "force": "true"},
            content=json.dumps(patch), headers={"Content-Type": "application/apply-patch+yaml"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text

    result = action(action.event("synchronize", remote.head()))

    assert result.returncode == 1
    assert "CrashLoopBackOff" in result.stdout, result.stdout
    assert "PREVIEW_CONTROL_PORT" in result.stdout, (
        "the reloader's last log lines, read through pods/log"
    )


GATEWAYS = {
    "istio": "istio-ingress/previews",
    "gateway-api": "istio-ingress/previews",
    "ingress": "nginx",
}


@pytest.mark.parametrize("router", sorted(GATEWAYS))
def test_every_router_is_accepted_with_the_crds_installed(action, remote, kube, router):
    result = action(action.event("opened", remote.head()), router=router, gateway=GATEWAYS[router])
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {"istio": "virtualservices", "gateway-api": "httproutes", "ingress": "ingresses"}
    assert objects_of(kube, result.outputs["environment"])[kinds[router]] == [
        result.outputs["environment"]
    ]


def test_gc_deletes_expired_previews_and_the_chart_schedules_it(
    action, remote, kube, sa_kubeconfig, tmp_path, github
):
    result = action(action.event("opened", remote.head()), ttl="1s")
    assert result.returncode == 0, result.stdout + result.stderr
    environment = result.outputs["environment"]
    time.sleep(2)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(sa_kubeconfig))
    gc = subprocess.run(
        [sys.executable, "-m", "streamlit_preview", "gc", "--backend", "kubernetes",
         "--kubeconfig", str(config), "--namespace", NAMESPACE],
        capture_output=True, text=True, timeout=120,
        env=os.environ | {"GITHUB_TOKEN": "ghs_gc", "GITHUB_API_URL": github.url},
    )  # fmt: skip
    assert gc.returncode == 0, gc.stderr
    assert environment in gc.stderr
    assert _wait_gone(kube, environment) == {}
    # It tells the pull request: the comment says the preview is gone, its Deployment inactive.
    (comment,) = github.fake.comments_by_pr[7]
    assert "closed" in comment["body"] and "ttl passed" in comment["body"]
    assert github.fake.statuses and {states[-1] for states in github.fake.statuses.values()} == {
        "inactive"
    }
    with kube.client() as client:  # the chart's cleanup job runs the same command
        job = client.get(
            "/apis/batch/v1/namespaces/preview-system/cronjobs/streamlit-preview-cleanup"
        )
        assert job.status_code == 200
        container = job.json()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][:2] == ["streamlit-preview", "gc"]
        assert NAMESPACE in container["args"][-1].split(",")


def test_a_missing_verb_in_the_role_is_named(action, remote, kube):
    from devcluster.cluster import apply

    with kube.client() as client:  # the chart's Role
        found = client.get(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles/streamlit-preview"
        ).json()
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "streamlit-preview", "namespace": NAMESPACE}, "rules": found["rules"]}  # fmt: skip
    reduced = json.loads(json.dumps(role))
    for rule in reduced["rules"]:
        if "deployments" in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "patch"]
    with kube.client() as client:
        apply(client, [reduced])
        try:
            result = action(action.event("opened", remote.head()))
        finally:
            apply(client, [role])
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, result.stdout
    assert "patch" in errors[0] and "deployments" in errors[0], errors[0]


def test_a_pod_killed_between_syncs_is_waited_for(action, remote, kube):
    opened = action(action.event("opened", remote.head()))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    environment = opened.outputs["environment"]
    pod = _pod(kube, environment)
    with kube.client() as client:  # as a node drain evicts it
        client.delete(
            f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}"
        ).raise_for_status()

    new = remote.commit(
        {"streamlit_app.py": "import streamlit as st\nst.write('after the drain')\n"}
    )
    synced = action(action.event("synchronize", new))

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert synced.outputs["commit"] == new
    assert _pod(kube, environment)["metadata"]["uid"] != pod["metadata"]["uid"]


def test_a_branch_that_does_not_exist_fails_at_once_with_the_reloaders_report(
    action, remote, node_git
):
    started = time.monotonic()
    head = {"ref": "no-such-branch", "sha": remote.head(),
            "repo": {"full_name": REPOSITORY, "clone_url": node_git.url("remote.git"), "private": False}}  # fmt: skip
    result = action(action.event("opened", remote.head(), head=head))

    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "branch 'no-such-branch' not found" in errors[0], result.stdout
    assert time.monotonic() - started < 60, (
        "read from the pod's termination message, not the timeout"
    )


def test_named_previews_have_their_own_comment_and_deployment(action, remote, github, kube):
    first = action(action.event("opened", remote.head()), name="one")
    second = action(action.event("opened", remote.head()), name="two")
    assert first.returncode == 0 and second.returncode == 0, first.stdout + second.stdout
    one, two = first.outputs["environment"], second.outputs["environment"]
    assert one != two and first.outputs["url"] != second.outputs["url"]
    assert len(github.fake.comments_by_pr[7]) == 2
    assert first.outputs["deployment-id"] != second.outputs["deployment-id"]

    closed_one = action(
        action.event("closed", remote.head()), event_name="pull_request_target", name="one"
    )
    assert closed_one.returncode == 0, closed_one.stdout
    assert _wait_gone(kube, one) == {}
    assert "deployments" in objects_of(kube, two)

    closed_all = action(action.event("closed", remote.head()), event_name="pull_request_target")
    assert closed_all.returncode == 0, closed_all.stdout
    assert _wait_gone(kube, two) == {}
    assert github.fake.statuses and {states[-1] for states in github.fake.statuses.values()} == {
        "inactive"
    }
    assert len(github.fake.comments_by_pr[7]) >= 2  # one per named preview at least
    assert all("closed" in c["body"] for c in github.fake.comments_by_pr[7])


def _fork(remote, node_git):  # type: ignore[no-untyped-def]
    """A fork of `remote` on the same git server, and a clone that pushes to it."""
    from tests.fixtures.gitrepo import git

    git("clone", "-q", "--bare", str(remote.remote), str(remote.root / "fork.git"), cwd=remote.root)
    work = remote.root / "fork-work"
    git("clone", "-q", str(remote.root / "fork.git"), str(work), cwd=remote.root)
    for key, value in (
        ("user.email", "fork@example.com"),
        ("user.name", "Fork"),
        ("commit.gpgsign", "false"),
    ):
        git("config", key, value, cwd=work)

    def push(text: str) -> str:
        (work / "streamlit_app.py").write_text(f"import streamlit as st\nst.title({text!r})\n")
        git("commit", "-q", "-am", text, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)

    return node_git.url("fork.git"), push


def _fork_event(action_name: str, sha: str, fork_url: str, sender: str = "maintainer") -> dict:
    return {
        "action": action_name, "number": 7, "sender": {"login": sender}, "label": {"name": "preview"},
        "pull_request": {"number": 7, "head": {"ref": "main", "sha": sha,
                         "repo": {"full_name": "stranger/cluster-app", "clone_url": fork_url, "private": False}}},
        "repository": {"full_name": REPOSITORY, "clone_url": "http://example.invalid/base.git", "private": False},
    }  # fmt: skip


def _served_commit(kube, environment: str) -> str:  # type: ignore[no-untyped-def]
    with kube.client() as client:
        return client.get(
            f"/api/v1/namespaces/{NAMESPACE}/services/{environment}:control/proxy/status"
        ).json()["commit"]


def test_a_fork_is_previewed_by_approval_pinned_to_the_approved_commit(
    action, remote, github, kube, node_git
):
    fork_url, push = _fork(remote, node_git)
    first = push("first from the fork")
    github.fake.permissions["maintainer"] = "write"
    github.fake.labels_by_pr[7] = {"preview"}

    opened = action(_fork_event("labeled", first, fork_url), event_name="pull_request_target",
                    **{"secret-env": "API_KEY=never-for-forks"})  # fmt: skip
    assert opened.returncode == 0, opened.stdout + opened.stderr
    environment = opened.outputs["environment"]
    assert _served_commit(kube, environment) == first
    with kube.client() as client:
        secret = client.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{environment}").json()
    assert not any(key.startswith("env-") for key in secret["data"]), "forks get no secret-env"

    second = push("second, not approved yet")
    pushed = action(_fork_event("synchronize", second, fork_url), event_name="pull_request_target")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert github.fake.labels_by_pr[7] == set(), "the approval label is taken off"
    assert "waiting for approval" in github.fake.comments_by_pr[7][0]["body"]
    assert _served_commit(kube, environment) == first, "a push never reaches a fork preview"

    github.fake.labels_by_pr[7] = {"preview"}
    relabelled = action(_fork_event("labeled", second, fork_url), event_name="pull_request_target")
    assert relabelled.returncode == 0, relabelled.stdout + relabelled.stderr
    assert _served_commit(kube, environment) == second


def test_an_approval_label_from_someone_without_write_access_is_refused(
    action, remote, github, kube, node_git
):
    fork_url, push = _fork(remote, node_git)
    sha = push("from the fork")
    github.fake.permissions["passer-by"] = "triage"

    result = action(
        _fork_event("labeled", sha, fork_url, sender="passer-by"), event_name="pull_request_target"
    )

    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "approve-label" in errors[0] and "no write access" in errors[0]
    assert objects_of(kube, "octo-cluster-app-pr-7") == {}


def test_the_comment_says_what_the_page_does(action, remote, github, tmp_path):
    """building, then ready with the page title; a commit whose page raises: app error with the
    exception (fenced), the Deployment `failure`, exit 1; the next good commit: ready again."""
    good = remote.commit(
        {
            "streamlit_app.py": "import streamlit as st\nst.set_page_config(page_title='Shop')\nst.write('ok')\n"
        }
    )
    opened = action(action.event("opened", good))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    bodies = [body for body, _ in github.fake.comment_history]
    assert "building" in bodies[0] and "ready" in bodies[-1] and "Shop" in bodies[-1]
    deployment = int(opened.outputs["deployment-id"])
    assert github.fake.statuses[deployment] == ["in_progress", "success"]

    broken = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write(x)\n"})
    synced = action(action.event("synchronize", broken))
    assert synced.returncode == 1, synced.stdout
    errors = [line for line in synced.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "app error at streamlit_app.py:2: NameError" in errors[0]
    body = github.fake.comments_by_pr[7][0]["body"]
    assert "app error" in body and "```text\napp error at streamlit_app.py:2: NameError" in body
    assert github.fake.statuses[max(github.fake.statuses)][-1] == "failure"
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(action.kubeconfig))
    listed = subprocess.run([sys.executable, "-m", "streamlit_preview", "list", "--backend", "kubernetes",
                             "--kubeconfig", str(config), "--namespace", NAMESPACE, "--json"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert [e["status"] for e in json.loads(listed.stdout)] == ["app error"], listed.stderr

    fixed = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('fixed')\n"})
    again = action(action.event("synchronize", fixed))
    assert again.returncode == 0, again.stdout
    assert "ready" in github.fake.comments_by_pr[7][0]["body"]
