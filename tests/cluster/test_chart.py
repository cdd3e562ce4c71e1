"""The chart, as operators use it: lint, template for every `ci/*.yaml` checked by the real API
server (a server-side dry run of every object), install, upgrade to changed values, uninstall
leaving nothing behind. The development cluster itself runs on this chart (devcluster/chart.py),
so every other cluster test runs on what it installs."""

from __future__ import annotations

import time

import pytest
import yaml

from devcluster import binaries
from devcluster.chart import run_helm
from devcluster.cluster import CLUSTER_SCOPED, object_path
from tests.fixtures.processes import ROOT

pytestmark = pytest.mark.cluster
CHART = ROOT / "charts" / "streamlit-preview"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))


@pytest.fixture(scope="module")
def helm(kube, tmp_path_factory):  # type: ignore[no-untyped-def]
    program = binaries.path_of("helm")
    if not program.exists():
        pytest.skip("helm is not built (scripts/cluster build)")
    home = tmp_path_factory.mktemp("helm")
    (home / "kubeconfig").write_text(yaml.safe_dump(kube.admin_kubeconfig))
    return lambda *args: run_helm(home / "kubeconfig", home, *args)


def test_every_ci_values_file_renders_objects_the_api_server_accepts(helm, kube):
    assert len(CI_VALUES) >= 3
    made: list[str] = []
    with kube.client() as client:
        try:
            for values in CI_VALUES:
                rendered = helm(
                    "template",
                    "ci",
                    str(CHART),
                    "--namespace",
                    "preview-system",
                    "--values",
                    str(values),
                )
                assert rendered.returncode == 0, (values.name, rendered.stderr)
                documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
                assert documents, values.name
                for namespace in {
                    d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"
                }:
                    if client.get(f"/api/v1/namespaces/{namespace}").status_code == 404:
                        client.post(
                            "/api/v1/namespaces", json={"metadata": {"name": namespace}}
                        ).raise_for_status()
                        made.append(namespace)
                for document in documents:
                    if document["kind"] not in CLUSTER_SCOPED:
                        document["metadata"].setdefault("namespace", "preview-system")
                    answer = client.patch(
                        object_path(document), params={"fieldManager": "chart-ci", "dryRun": "All", "force": "true"},
                        content=yaml.safe_dump(document), headers={"Content-Type": "application/apply-patch+yaml"},
                    )  # fmt: skip
                    assert answer.status_code in (200, 201), (
                        values.name,
                        document["kind"],
                        document["metadata"]["name"],
                        answer.text,
                    )
        finally:
            for namespace in made:
                client.delete(f"/api/v1/namespaces/{namespace}")


def test_a_bad_value_is_refused_in_one_line_before_anything_is_installed(helm):
    bad = helm("template", "x", str(CHART), "--set", "domain=previews.example.com",
               "--set", "repositories[0].name=not-a-repository")  # fmt: skip
    assert bad.returncode != 0
    assert "/repositories/0/name" in bad.stderr and "not-a-repository" in bad.stderr
    lint = helm("lint", str(CHART), "--values", str(CHART / "ci" / "full-values.yaml"))
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _labelled(kube, release: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every object of any kind that carries the release's instance label."""
    found = []
    selector = f"app.kubernetes.io/instance={release}"
    with kube.client() as client:
        groups = ["/api/v1"] + [
            f"/apis/{g['preferredVersion']['groupVersion']}"
            for g in client.get("/apis").json()["groups"]
        ]
        for base in groups:
            for resource in client.get(base).json().get("resources", []):
                if "/" in resource["name"] or "list" not in resource["verbs"]:
                    continue
                answer = client.get(
                    f"{base}/{resource['name']}", params={"labelSelector": selector}
                )
                if answer.status_code == 200:
                    found += [f"{resource['kind']} {i['metadata'].get('namespace', '')}/{i['metadata']['name']}"
                              for i in answer.json().get("items", [])]  # fmt: skip
    return found


def test_install_upgrade_and_uninstall_leave_nothing_behind(helm, kube, tmp_path):
    release, namespace = "chart-test", "chart-test-system"
    first = {"domain": "chart.example.com", "repositories": [{"name": "acme/chart-one", "namespace": "chart-test-one"}],
             "signIn": {"external": "10.88.0.1:4180"}, "receiver": {"external": "http://10.88.0.1:9000"},
             "networkPolicies": {"routerNamespace": "kube-system"}}  # fmt: skip
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(first))
    installed = helm(
        "install",
        release,
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        "-f",
        str(values),
        "--wait",
    )
    try:
        assert installed.returncode == 0, installed.stderr
        assert "chart-test-one" in installed.stdout  # NOTES.txt names the repository's namespace
        with kube.client() as client:
            defaults = client.get(
                "/api/v1/namespaces/chart-test-one/configmaps/streamlit-preview-defaults"
            ).json()
            assert defaults["data"]["domain"] == "chart.example.com"
            sign_in = client.get(
                "/api/v1/namespaces/chart-test-one/configmaps/streamlit-preview-sign-in"
            ).json()
            assert sign_in["data"]["cookie-filter"] == "http://10.88.0.1:9000"

        second = first | {"repositories": [{"name": "acme/chart-one", "namespace": "chart-test-one", "quota": {"pods": "3"}},
                                           {"name": "acme/chart-two", "namespace": "chart-test-two"}]}  # fmt: skip
        values.write_text(yaml.safe_dump(second))
        upgraded = helm(
            "upgrade", release, str(CHART), "-n", namespace, "-f", str(values), "--wait"
        )
        assert upgraded.returncode == 0, upgraded.stderr
        with kube.client() as client:
            quota = client.get("/api/v1/namespaces/chart-test-one/resourcequotas/previews").json()
            assert quota["spec"]["hard"]["pods"] == "3"
            binding = client.get(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/chart-test-two/rolebindings/streamlit-preview"
            ).json()
            assert {
                "kind": "User",
                "apiGroup": "rbac.authorization.k8s.io",
                "name": "github:acme/chart-two",
            } in binding["subjects"]
        assert _labelled(kube, release)
    finally:
        removed = helm("uninstall", release, "-n", namespace, "--wait")
    assert removed.returncode == 0, removed.stderr
    deadline = time.monotonic() + 120
    left = _labelled(kube, release)
    while left and time.monotonic() < deadline:  # namespaces finish terminating
        time.sleep(1)
        left = _labelled(kube, release)
    assert left == []
    with kube.client() as client:
        client.delete(f"/api/v1/namespaces/{namespace}")
