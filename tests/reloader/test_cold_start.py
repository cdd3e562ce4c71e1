"""The first start, which runs a Streamlit launched ahead of the clone (see `launcher`), must
look to the app exactly like `python -m streamlit run` in its checkout."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

APP = """
import os, sys
import streamlit as st
import service, config  # names the reloader's own modules also have
st.title("cold start")
st.write("cwd", os.getcwd())
st.write("module", service.WHO, config.WHO)
"""


def test_the_first_start_runs_the_app_as_streamlit_run_does(remote, start_reloader, page):
    files = {"service.py": "WHO = 'app-service'\n", "config.py": "WHO = 'app-config'\n"}
    remote.commit({"streamlit_app.py": APP, **files})
    reloader = start_reloader(remote.url)
    reloader.wait_ready()
    page.goto(reloader.url)
    page.get_by_text("cold start").wait_for(timeout=30_000)
    page.get_by_text(f"cwd {reloader.workdir}").wait_for(timeout=5_000)
    page.get_by_text("module app-service app-config").wait_for(timeout=5_000)
    assert reloader.status()["streamlit"]["restarts"] == 0
