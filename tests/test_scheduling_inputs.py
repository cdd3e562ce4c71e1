"""The `python`, `image-pull-secret` and `tolerations` inputs, as rendered."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.fixtures.cli import render
from tests.fixtures.schemas import validate_object


def _pod_spec(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    (deployment,) = [d for d in yaml.safe_load_all(result.stdout) if d["kind"] == "Deployment"]
    validate_object(deployment)
    return deployment["spec"]["template"]["spec"]


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_python_picks_the_published_image(python):
    spec = _pod_spec(render("--python", python))
    assert spec["containers"][0]["image"].endswith(f"-python{python}")


def test_python_defaults_to_3_12_and_an_explicit_image_wins():
    assert _pod_spec(render())["containers"][0]["image"].endswith("-python3.12")
    assert (
        _pod_spec(render("--image", "mirror.example/sp:1"))["containers"][0]["image"]
        == "mirror.example/sp:1"
    )
    both = render("--image", "mirror.example/sp:1", "--python", "3.11")
    assert both.returncode == 2 and "--python" in both.stderr


def test_image_pull_secret_is_referenced():
    spec = _pod_spec(render("--image-pull-secret", "mirror-credentials"))
    assert spec["imagePullSecrets"] == [{"name": "mirror-credentials"}]
    assert "imagePullSecrets" not in _pod_spec(render())


def test_tolerations_in_kubectl_taint_syntax():
    spec = _pod_spec(render("--tolerations", "pool=spot:NoSchedule", "--tolerations", "dedicated:NoExecute",
                             "--gpu", "1"))  # fmt: skip
    assert spec["tolerations"] == [
        {"key": "pool", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]


@pytest.mark.parametrize(
    ("value", "named"),
    [("pool=spot", "--tolerations"), ("pool=spot:Sometimes", "--tolerations"), ("bad key!:NoSchedule", "--tolerations"),
     ("python-2.7", "--python"), ("Not_A_Name", "--image-pull-secret")],
)  # fmt: skip
def test_bad_values_are_one_line(value, named):
    result = render(named, value)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and named in result.stderr
