"""Installs into the app environment: uv where it gives pip's result, pip everywhere else.

Real uv, real pip, real wheels; the "image" is the interpreter running the tests, whose
packages the app environment sees through its `.pth` file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from streamlit_preview.errors import ServiceError
from streamlit_preview.reloader.deps import AppEnvironment
from streamlit_preview.versions import installed_version
from tests.fixtures.wheels import make_wheel


@pytest.fixture
def environment(tmp_path: Path) -> AppEnvironment:
    env = AppEnvironment(tmp_path / "app-env", env=dict(os.environ))
    env.create()
    return env


def _own_packages(environment: AppEnvironment) -> set[str]:
    site = next((environment.root / "lib").glob("python*/site-packages"))
    return {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}


def test_what_the_image_has_is_not_installed_a_second_time(tmp_path, environment, caplog):
    """A dependency the image satisfies stays the image's, as with pip."""
    make_wheel(tmp_path, "needsjinja", "1.0", "", requires=("jinja2",))
    caplog.set_level(logging.INFO)
    restart = environment.install(f"--find-links {tmp_path}\nneedsjinja\n", cwd=tmp_path)

    assert _own_packages(environment) == {"needsjinja"}
    assert restart is False  # only added: the running app sees it without a restart
    assert "installed with uv: needsjinja" in caplog.text


def test_a_version_other_than_the_images_is_installed_in_the_environment(tmp_path, environment):
    image_jinja = installed_version("jinja2")
    assert image_jinja != "3.1.4"
    restart = environment.install("jinja2==3.1.4\n", cwd=tmp_path)
    assert environment.package_version("jinja2") == "3.1.4"
    assert restart is True  # it shadows the image's copy, which the app may have imported


@pytest.mark.parametrize(
    "setting", [{"PIP_NO_BINARY": "some-other-package"}, {"PIP_CONSTRAINT": "constraints.txt"}]
)
def test_a_pip_setting_uv_cannot_honour_installs_with_pip(tmp_path, setting, caplog):
    (tmp_path / "constraints.txt").write_text("needsnothing==1.0\n")
    make_wheel(tmp_path, "needsnothing", "1.0", "")
    environment = AppEnvironment(tmp_path / "app-env", env=dict(os.environ) | setting)
    environment.create()
    caplog.set_level(logging.INFO)
    environment.install(f"--find-links {tmp_path}\nneedsnothing\n", cwd=tmp_path)
    assert "installing with pip: pip setting" in caplog.text
    assert environment.package_version("needsnothing") == "1.0"


def test_hash_checking_mode_is_pips(tmp_path, environment, caplog):
    wheel = make_wheel(tmp_path, "hashed", "1.0", "")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    caplog.set_level(logging.INFO)
    environment.install(f"hashed @ {wheel.as_uri()} --hash=sha256:{digest}\n", cwd=tmp_path)
    assert environment.package_version("hashed") == "1.0"
    assert "installing with pip: hash-checking mode" in caplog.text

    with pytest.raises(ServiceError, match="installing requirements failed"):
        environment.install(f"hashed @ {wheel.as_uri()} --hash=sha256:{'0' * 64}\n", cwd=tmp_path)


def test_a_failure_is_reported_in_pips_words(tmp_path, environment):
    with pytest.raises(ServiceError) as failure:
        environment.install("no-such-package-for-streamlit-preview-tests==1\n", cwd=tmp_path)
    message = str(failure.value)
    assert message.startswith("installing requirements failed: ")
    assert "No matching distribution" in message


def test_a_requirement_removed_from_the_list_is_uninstalled(tmp_path, environment, caplog):
    """The environment holds exactly what the commit requires, as a fresh deploy would: a
    package dropped from requirements.txt (and what only it needed) is removed, and that
    needs a restart (the running app may have imported it)."""
    make_wheel(tmp_path, "keptpkg", "1.0", "")
    make_wheel(tmp_path, "droppedpkg", "1.0", "", requires=("droppeddep",))
    make_wheel(tmp_path, "droppeddep", "1.0", "")
    environment.install(f"--find-links {tmp_path}\nkeptpkg\ndroppedpkg\n", cwd=tmp_path)
    assert _own_packages(environment) == {"keptpkg", "droppedpkg", "droppeddep"}
    caplog.set_level(logging.INFO)

    restart = environment.install(f"--find-links {tmp_path}\nkeptpkg\n", cwd=tmp_path)

    assert _own_packages(environment) == {"keptpkg"}
    assert restart is True
    assert "removed what the requirements no longer need: droppeddep, droppedpkg" in caplog.text


def test_no_requirements_at_all_leaves_only_the_images_packages(tmp_path, environment):
    make_wheel(tmp_path, "onlypkg", "1.0", "")
    environment.install(f"--find-links {tmp_path}\nonlypkg\njinja2==3.1.4\n", cwd=tmp_path)
    assert environment.remove_all(cwd=tmp_path) is True
    assert _own_packages(environment) == set()
    assert environment.package_version("jinja2") is None  # the image's copy is seen again
    assert installed_version("jinja2") != "3.1.4"
    assert environment.remove_all(cwd=tmp_path) is False  # nothing left: no restart
