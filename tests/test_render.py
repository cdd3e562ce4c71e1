"""Rendered objects are strictly valid for every router and for hostile names and values."""

from __future__ import annotations

import pytest

from streamlit_preview.config import build_settings, make_target
from streamlit_preview.naming import LABEL_INSTANCE, LABEL_MANAGED_BY
from streamlit_preview.render import render_manifests
from tests.fixtures.schemas import SchemaViolation, validate_object

HOSTILE_BRANCH = "feat/\"quoted\"{{x}}#not-a-comment${HOME}'single'&anchor!tag"
HOSTILE_VALUE = "a: b\nc: {{ d }}\n- e\n'\"#"


def settings_for(router: str = "istio", **inputs: str):  # type: ignore[no-untyped-def]
    target = make_target(
        repository="octo/" + "Very.Long_Repository-Name" * 4, repo_url="https://github.com/octo/app.git",
        branch=HOSTILE_BRANCH, pr=123456, sha="a" * 40,
    )  # fmt: skip
    defaults = {"domain": "previews.example.com", "router": router,
                "gateway": "nginx" if router == "ingress" else "istio-system/preview-gateway"}  # fmt: skip
    return build_settings(defaults | inputs, target, git_token="ghs_token")


@pytest.mark.parametrize("router", ["istio", "gateway-api", "ingress", "none"])
def test_every_object_is_strictly_valid(router):
    settings = settings_for(
        router,
        env=f"PLAIN={HOSTILE_VALUE.splitlines()[0]}\nOTHER={{{{ x }}}}: y",
        **{
            "secret-env": "API_KEY=s3cr3t: {{ v }}",
            "gpu": "2",
            "node-selector": "pool=gpu\nkubernetes.io/arch=amd64",
        },
    )
    objects = render_manifests(settings, webhook_key="k" * 64)
    kinds = [o["kind"] for o in objects]
    expected_route = {
        "istio": ["VirtualService"],
        "gateway-api": ["HTTPRoute"],
        "ingress": ["Ingress"],
        "none": [],
    }
    assert kinds == ["Secret", "Service", "Deployment", *expected_route[router]]
    for obj in objects:
        validate_object(obj)
        assert obj["metadata"]["labels"][LABEL_MANAGED_BY] == "streamlit-preview"
        assert obj["metadata"]["labels"][LABEL_INSTANCE] == settings.environment
        assert obj["metadata"]["annotations"]["streamlit-preview.dev/branch"] == HOSTILE_BRANCH
        assert len(obj["metadata"]["name"]) <= 63


def test_hostile_values_stay_plain_strings():
    settings = settings_for(env="A={{ x }}: y\nB='#\"")
    deployment = render_manifests(settings, webhook_key="k")[2]
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PREVIEW_BRANCH"]["value"] == HOSTILE_BRANCH
    assert env["A"]["value"] == "{{ x }}: y"
    assert env["B"]["value"] == "'#\""


def test_secrets_never_appear_as_literal_values():
    settings = settings_for(**{"secret-env": "API_KEY=s3cr3t-value"})
    objects = render_manifests(settings, webhook_key="webhook-key-value")
    non_secret = repr([o for o in objects if o["kind"] != "Secret"])
    for secret in ("s3cr3t-value", "webhook-key-value", "ghs_token"):
        assert secret not in non_secret
        assert secret not in repr(objects[0])  # base64 in the Secret, never plain
    container = objects[2]["spec"]["template"]["spec"]["containers"][0]
    api_key = next(e for e in container["env"] if e["name"] == "API_KEY")
    assert api_key["valueFrom"]["secretKeyRef"]["key"] == "env-API_KEY"


def test_pod_is_hardened_and_probed():
    deployment = render_manifests(settings_for(), webhook_key="k")[2]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert (
        deployment["spec"]["strategy"]["type"] == "Recreate" and deployment["spec"]["replicas"] == 1
    )
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        >= 300
    )
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    gpu_pod = render_manifests(settings_for(gpu="1"), webhook_key="k")[2]["spec"]["template"][
        "spec"
    ]
    assert gpu_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu_pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_route_exposes_only_the_streamlit_port():
    for router in ("istio", "gateway-api", "ingress"):
        route = render_manifests(settings_for(router), webhook_key="k")[3]
        assert "8080" not in repr(route) and "control" not in repr(route)


def test_the_validator_rejects_unknown_fields():
    deployment = render_manifests(settings_for(), webhook_key="k")[2]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(SchemaViolation):
        validate_object(deployment)
    route = render_manifests(settings_for(), webhook_key="k")[3]
    route["spec"]["http"][0]["retriess"] = {}
    with pytest.raises(SchemaViolation):
        validate_object(route)
