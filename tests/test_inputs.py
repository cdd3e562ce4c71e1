"""The inputs' table: every row parses its default, refuses a bad value with one line naming
the input, and means the same as an action input and as a command-line flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from streamlit_preview import cli
from streamlit_preview.config import Settings, build_settings, make_target
from streamlit_preview.errors import InputError
from streamlit_preview.inputs import BY_NAME, FLAGS, INPUTS, Flag
from tests.fixtures.processes import ROOT

TARGET = make_target(repository="acme/app", repo_url="https://github.com/acme/app",
                     branch="feature", pr=7, sha=None)  # fmt: skip
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
# A valid value for every input, other than its default, and the field it gives.
SAMPLES: dict[str, tuple[str, object]] = {
    "mode": ("close", "close"),
    "kubeconfig": ("clusters: [{name: c}]\ncontexts: [{name: x}]\n",
                   {"clusters": [{"name": "c"}], "contexts": [{"name": "x"}]}),
    "cluster-url": ("https://203.0.113.10:6443", "https://203.0.113.10:6443"),
    "cluster-ca": (CA, None),  # checked by its own tests; here only that it reaches the field
    "sleep-after": ("2h", 7200),
    "oidc-audience": ("k8s", "k8s"),
    "namespace": ("team-a", "team-a"),
    "domain": ("previews.test", "previews.test"),
    "app-path": ("apps/web.py", "apps/web.py"),
    "image": ("registry.test/app:1", "registry.test/app:1"),
    "python": ("3.11", "3.11"),
    "image-pull-secret": ("pull", "pull"),
    "router": ("ingress", "ingress"),
    "gateway": ("edge/gw", "edge/gw"),
    "ingress-class": ("traefik", "traefik"),
    "access": ("public", None),
    "ephemeral-storage": ("3Gi", "3Gi"),
    "check": ("none", "none"),
    "clear-cache": ("all", "all"),
    "check-timeout": ("1m", 60),
    "workspace-size": ("2Gi", "2Gi"),
    "env": ("A=1", {"A": "1"}),
    "secret-env": ("TOKEN= spaced ", {"TOKEN": " spaced "}),
    "name": ("web", "web"),
    "approve-label": ("ok-to-preview", "ok-to-preview"),
    "data-size": ("5Gi", "5Gi"),
    "data-storage-class": ("fast", "fast"),
    "setup": ("make data", "make data"),
    "setup-watch": ("data/*", ("data/*",)),
    "secrets-toml": ('key = "v"\n', 'key = "v"\n'),
    "cpu": ("1", "1"),
    "memory": ("2Gi", "2Gi"),
    "gpu": ("1", 1),
    "node-selector": ("pool=previews", {"pool": "previews"}),
    "tolerations": ("spot:NoSchedule",
                    [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]),
    "ttl": ("0", 0),
    "wait-timeout": ("90s", 90),
    "comment": ("false", False),
    "deployment": ("no", False),
    "webhook-url": ("https://hooks.test/sync", "https://hooks.test/sync"),
}  # fmt: skip
# Fields that build_settings fills itself, from the target, the token or other inputs.
DERIVED = {"target", "environment", "git_token", "pin", "token_renewal"}


def settings(inputs: dict[str, str]) -> Settings:
    return build_settings(inputs, TARGET, needs_route=False, label=lambda name: f"<{name}>")


def test_every_settings_field_comes_from_one_row_or_is_derived():
    from_rows = [row.settings_field for row in INPUTS]
    assert len(from_rows) == len(set(from_rows))
    assert set(from_rows) | DERIVED == {f.name for f in dataclasses.fields(Settings)}
    assert set(SAMPLES) == set(BY_NAME)


def test_action_yml_lists_the_inputs_in_the_tables_order():
    documented = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert [name for name in documented if name != "token"] == [row.name for row in INPUTS]


def test_the_defaults_alone_make_settings():
    defaults = settings({})
    assert defaults.mode == "auto" and defaults.router == "gateway-api"
    assert defaults.ttl_seconds == 7 * 86400 and defaults.sleep_after == 30 * 60
    assert defaults.image.endswith("-python3.12") and defaults.domain is None


@pytest.mark.parametrize("row", INPUTS, ids=lambda row: row.name)
def test_each_input_reaches_its_field(row):
    text, expected = SAMPLES[row.name]
    value = getattr(settings({row.name: text}), row.settings_field)
    if expected is not None:
        assert value == expected
    assert value != getattr(settings({}), row.settings_field)


@pytest.mark.parametrize("row", INPUTS, ids=lambda row: row.name)
def test_each_input_refuses_a_control_character_in_one_line_naming_it(row):
    with pytest.raises(InputError) as caught:
        settings({row.name: "bad\x01value"})
    message = str(caught.value)
    assert message.startswith(f"<{row.name}>: ") and "\n" not in message


# --kubeconfig is read by the Kubernetes backend's credential (tests/cli/test_kubernetes_cli.py).
@pytest.mark.parametrize("row", [r for r in FLAGS if r.name != "kubeconfig"], ids=lambda r: r.name)
def test_each_flag_means_what_the_action_input_means(row, tmp_path: Path):
    text, _ = SAMPLES[row.name]
    if row.flag is Flag.FILE:
        path = tmp_path / "value"
        path.write_text(text)
        argv = [row.option, str(path)]
    elif row.flag is Flag.LINES:
        argv = [arg for line in text.splitlines() for arg in (row.option, line)]
    else:
        argv = [row.option, text]
    args = cli.build_parser().parse_args(
        ["sync", "--repo", "https://github.com/acme/app", "--branch", "feature", "--pr", "7",
         "--backend", "local", *argv]
    )  # fmt: skip
    given = cli.settings_from(args, "sync")
    assert getattr(given, row.settings_field) == getattr(
        settings({row.name: text}), row.settings_field
    )


def test_action_only_inputs_have_no_flag():
    parser = cli.build_parser()
    for row in INPUTS:
        if row.flag is Flag.ACTION_ONLY:
            with pytest.raises(InputError, match=f"unrecognized arguments: {row.option}"):
                parser.parse_args(["sync", "--repo", "r", "--pr", "1", row.option, "x"])


def test_a_python_with_an_image_of_its_own_is_refused():
    with pytest.raises(InputError, match=r"^<python>: applies to the default image only"):
        settings({"image": "registry.test/app:1", "python": "3.11"})
