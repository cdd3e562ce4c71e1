"""The reloader keeps the preview alive: crashes, broken commits, dependencies, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.processes import wait_for
from tests.fixtures.wheels import make_wheel


def _streamlit_text(reloader) -> str:  # type: ignore[no-untyped-def]
    return httpx.get(reloader.url + "_stcore/health", timeout=5).text


def test_crashed_streamlit_is_restarted_and_reported(reloader):
    pid = reloader.status()["streamlit"]["pid"]
    os.killpg(pid, signal.SIGKILL)

    status = wait_for(
        lambda: (
            (s := reloader.status())["streamlit"]["state"] == "running"
            and s["streamlit"]["pid"] not in (None, pid)
            and s
        ),
        timeout=30,
        message="streamlit was not restarted after a crash",
    )
    assert status["streamlit"]["restarts"] >= 1
    assert _streamlit_text(reloader) == "ok"


def test_syntax_error_is_reported_and_next_good_commit_recovers(remote, reloader):
    broken = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('oops'\n"})
    assert reloader.sync(broken).status_code == 200
    status = reloader.status()
    assert "SyntaxError" in status["last_error"] and "streamlit_app.py" in status["last_error"]
    assert reloader.http.get("/healthz").status_code == 200

    fixed = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('fixed')\n"})
    assert reloader.sync(fixed).json()["commit"] == fixed
    assert reloader.status()["last_error"] is None
    assert reloader.http.get("/readyz").status_code == 200


def test_missing_app_file_keeps_supervisor_up_and_recovers(remote, reloader):
    gone = remote.commit({"streamlit_app.py": None})
    assert reloader.sync(gone).status_code == 200
    assert "not in commit" in reloader.status()["last_error"]
    assert reloader.http.get("/healthz").status_code == 200

    back = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('back')\n"})
    reloader.sync(back)
    assert reloader.status()["last_error"] is None
    wait_for(lambda: reloader.http.get("/readyz").status_code == 200, timeout=30)


def test_new_requirement_needs_no_restart_but_a_new_version_does(tmp_path, remote, reloader):
    pid = reloader.status()["streamlit"]["pid"]
    first = make_wheel(tmp_path, "previewdep", "1.0", "GREETING = 'one'\n")
    added = remote.commit({"requirements.txt": f"previewdep @ {first.as_uri()}\n"})

    body = reloader.sync(added).json()

    assert body["restarted"] is False
    status = reloader.status()
    assert status["last_error"] is None and status["requirements"] is True
    assert status["streamlit"]["pid"] == pid
    assert "app-env" in Path(f"/proc/{pid}/cmdline").read_text()

    second = make_wheel(tmp_path, "previewdep", "2.0", "GREETING = 'two'\n")
    upgraded = remote.commit({"requirements.txt": f"previewdep @ {second.as_uri()}\n"})
    assert reloader.sync(upgraded).json()["restarted"] is True
    import_check = subprocess.run([sys.executable, "-c", "import previewdep"], capture_output=True)
    assert import_check.returncode != 0, "the image's own environment must stay untouched"


def test_failed_install_keeps_previous_app_and_reports(remote, reloader):
    pid = reloader.status()["streamlit"]["pid"]
    bad = remote.commit(
        {"requirements.txt": "this-package-does-not-exist @ file:///nonexistent/x.whl\n"}
    )

    body = reloader.sync(bad).json()

    assert body["restarted"] is False
    status = reloader.status(detail=True)
    assert "installing requirements failed" in status["last_error"]
    assert status["streamlit"]["pid"] == pid and status["streamlit"]["state"] == "running"


def test_sigterm_stops_streamlit_and_exits_within_10_seconds(reloader):
    child = reloader.status()["streamlit"]["pid"]
    started = time.monotonic()
    code = reloader.stop()
    assert time.monotonic() - started < 10
    assert code == 0
    assert not Path(f"/proc/{child}").exists()


def test_app_symlink_escaping_the_repository_is_refused(tmp_path, remote, start_reloader):
    outside = tmp_path / "outside.py"
    outside.write_text("import streamlit as st\nst.write('outside')\n")
    (remote.work / "escape.py").symlink_to(outside)
    subprocess.run(["git", "add", "escape.py"], cwd=remote.work, check=True)
    subprocess.run(["git", "commit", "-qm", "link"], cwd=remote.work, check=True)
    remote.push()

    reloader = start_reloader(remote.url, app="escape.py")

    # A permanent failure: the reloader says so once and exits; Streamlit never ran it.
    assert reloader.process.wait(30) != 0
    assert "outside the repository" in reloader.log()
    assert "streamlit started" not in reloader.log()


def test_streamlit_config_change_restarts_streamlit(remote, reloader):
    pid = reloader.status()["streamlit"]["pid"]
    new = remote.commit({".streamlit/config.toml": '[theme]\nbase = "dark"\n'})
    body = reloader.sync(new).json()
    assert body["restarted"] is True
    status = reloader.status()
    assert status["streamlit"]["pid"] != pid and status["streamlit"]["state"] == "running"


def test_streamlit_dies_with_a_killed_reloader(reloader):
    """No orphan keeps the port when the reloader itself is killed (OOM, SIGKILL)."""
    child = reloader.status()["streamlit"]["pid"]
    os.kill(reloader.process.pid, signal.SIGKILL)
    reloader.process.wait(10)
    assert isinstance(child, int) and child > 0
    wait_for(
        lambda: not Path(f"/proc/{child}").exists(),
        timeout=10,
        message="Streamlit outlived its reloader",
    )
    assert not Path(f"/proc/{child}").exists()
