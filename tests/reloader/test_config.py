"""Reloader settings: every bad value exits 2 with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streamlit_preview.errors import InputError
from streamlit_preview.reloader.config import child_environment, parse_settings
from tests.fixtures.processes import ROOT

BASE = {
    "PREVIEW_REPO": "https://example.com/o/r.git",
    "PREVIEW_BRANCH": "feature/x",
    "PREVIEW_WEBHOOK_SECRET": "key",
    "PREVIEW_WORKDIR": "/tmp/preview-checkout",
}


def test_environment_variables_and_defaults():
    settings = parse_settings([], BASE)
    assert settings.app == "streamlit_app.py"
    assert (settings.streamlit_port, settings.control_port, settings.bind) == (
        8501,
        8080,
        "0.0.0.0",
    )
    assert settings.webhook_secret == b"key"
    assert "key" not in repr(settings)


def test_flags_override_environment(tmp_path):
    secret = tmp_path / "k"
    secret.write_text("from-file\n")
    settings = parse_settings(
        ["--app", "apps/main.py", "--webhook-secret-file", str(secret), "--streamlit-port", "9000"],
        BASE,
    )
    assert settings.app == "apps/main.py" and settings.streamlit_port == 9000
    assert settings.webhook_secret == b"from-file"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PREVIEW_REPO": ""}, "PREVIEW_REPO"),
        ({"PREVIEW_BRANCH": ""}, "PREVIEW_BRANCH"),
        ({"PREVIEW_BRANCH": "bad..name"}, "PREVIEW_BRANCH"),
        ({"PREVIEW_WEBHOOK_SECRET": ""}, "PREVIEW_WEBHOOK_SECRET"),
        ({"PREVIEW_WEBHOOK_SECRET_FILE": "/nonexistent/key"}, "PREVIEW_WEBHOOK_SECRET_FILE"),
        ({"PREVIEW_APP": "../outside.py"}, "PREVIEW_APP"),
        ({"PREVIEW_APP": "/etc/passwd"}, "PREVIEW_APP"),
        ({"PREVIEW_APP": "apps/../../x.py"}, "PREVIEW_APP"),
        ({"PREVIEW_STREAMLIT_PORT": "http"}, "PREVIEW_STREAMLIT_PORT"),
        ({"PREVIEW_CONTROL_PORT": "70000"}, "PREVIEW_CONTROL_PORT"),
        ({"PREVIEW_WORKDIR": "/home/u/.local/share/checkout"}, "PREVIEW_WORKDIR"),
        ({"PREVIEW_WORKDIR": "/srv/venv/app"}, "PREVIEW_WORKDIR"),
        ({"PREVIEW_REPO": "https://user:pw@example.com/r.git"}, "PREVIEW_REPO"),
        ({"PREVIEW_PUBLIC_URL": "preview.example.com"}, "PREVIEW_PUBLIC_URL"),
    ],
)
def test_bad_values_name_the_input(change, named):
    with pytest.raises(InputError) as caught:
        parse_settings([], BASE | change)
    assert str(caught.value).startswith(named)
    assert "\n" not in str(caught.value)


def test_process_exits_2_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)} | BASE | {"PREVIEW_APP": "../x.py"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "reloader.py")], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PREVIEW_APP" in result.stderr


def test_unknown_flag_exits_2_with_one_line():
    result = subprocess.run(
        [sys.executable, str(ROOT / "reloader.py"), "--no-such-flag"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_child_environment_drops_secrets():
    env = child_environment(
        {"PREVIEW_WEBHOOK_SECRET": "a", "PREVIEW_GIT_TOKEN_FILE": "/t", "PATH": "/bin"}
    )
    assert env["PATH"] == "/bin" and not any(k.startswith("PREVIEW_") for k in env)
