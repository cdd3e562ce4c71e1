"""Pinned mode (fork previews): exactly the approved commit, never the branch head."""

from __future__ import annotations


def test_a_pinned_reloader_serves_exactly_its_commit(remote, start_reloader):
    approved = remote.head()
    later = remote.commit(
        {"streamlit_app.py": "import streamlit as st\nst.title('not approved')\n"}
    )
    reloader = start_reloader(remote.url, extra_env={"PREVIEW_PIN": approved})
    reloader.wait_ready()
    assert reloader.status()["commit"] == approved
    assert "not approved" not in (reloader.workdir / "streamlit_app.py").read_text()

    assert reloader.sync().status_code == 409  # no commit named: the branch head is not followed
    assert reloader.sync("f" * 40).status_code == 409  # cannot be fetched
    assert reloader.status()["commit"] == approved

    moved = reloader.sync(later)
    assert moved.status_code == 200 and moved.json()["commit"] == later
    assert "not approved" in (reloader.workdir / "streamlit_app.py").read_text()


def test_a_bad_pin_is_one_line(remote, start_reloader):
    reloader = start_reloader(remote.url, extra_env={"PREVIEW_PIN": "main"})
    assert reloader.process.wait(30) == 2
    assert "PREVIEW_PIN" in reloader.log()
