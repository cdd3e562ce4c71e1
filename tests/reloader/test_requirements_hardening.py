"""Requirements: a failed install is retried until it works, a package that arrives in the
same commit as the line naming it installs, and nothing outside the repository is read."""

from __future__ import annotations

from tests.fixtures.wheels import make_wheel

APP = "import streamlit as st\nimport previewdep\nst.title(previewdep.GREETING)\n"


def test_a_failed_install_is_retried_at_the_next_sync_until_it_works(tmp_path, remote, reloader):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    missing = wheels / "previewdep-1.0-py3-none-any.whl"
    new = remote.commit(
        {"requirements.txt": f"previewdep @ {missing.as_uri()}\n", "streamlit_app.py": APP}
    )

    assert reloader.sync(new).status_code == 200
    assert "installing requirements failed" in (reloader.status(detail=True)["last_error"] or "")

    assert reloader.sync().status_code == 200  # nothing new, the wheel still missing
    assert "installing requirements failed" in (reloader.status(detail=True)["last_error"] or "")

    make_wheel(wheels, "previewdep", "1.0", "GREETING = 'installed at last'\n")
    assert reloader.sync().status_code == 200
    status = reloader.status()
    assert status["last_error"] is None, status
    assert reloader.http.get("/readyz").status_code == 200


def test_a_package_that_arrives_with_the_line_naming_it_installs(tmp_path, remote, reloader):
    wheel = make_wheel(tmp_path, "previewdep", "1.0", "GREETING = 'from the same commit'\n")
    new = remote.commit({
        f"wheels/{wheel.name}": wheel.read_bytes(),
        "requirements.txt": f"./wheels/{wheel.name}\n",
        "streamlit_app.py": APP,
    })  # fmt: skip

    assert reloader.sync(new).status_code == 200

    assert reloader.status()["last_error"] is None
    assert reloader.status()["requirements"] is True


def test_requirements_never_read_outside_the_repository(tmp_path, remote, reloader):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-line\n")
    for line in (
        f"-r {secret}",
        "-c ../../../../etc/passwd",
        f"-e {tmp_path}",
        f"--requirement={secret}",
    ):
        new = remote.commit({"requirements.txt": line + "\n"})
        assert reloader.sync(new).status_code == 200
        status = reloader.http.get("/status").text
        assert "outside the repository" in reloader.status(detail=True)["last_error"], line
        assert "top-secret-line" not in status and "root:" not in status
