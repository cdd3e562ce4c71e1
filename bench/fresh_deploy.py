"""What "a preview shows what a fresh deploy shows" costs a sync (issue 26).

    python -m bench.fresh_deploy [--runs 7]

Two reloaders on one repository, one with `clear-cache: data` and one with `never`, each with
a Chromium tab open on its app (a `st.cache_data` loader of `data/values.csv`). Each run
commits a new `data/values.csv`; both are synced, in alternating order: /sync's own
`duration_ms` of each (the clear runs inside it), and for `data` the time from the signed
/sync to the new values in the tab (with `never` its tab keeps the old values). Then requirements: a commit that adds a local wheel to
`requirements.txt` against one that removes it again (the removal uninstalls it and
restarts, as a fresh deploy would not have it), measured as /sync's own `duration_ms`.
Medians, and ratios against the baseline in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from streamlit_preview.reloader import contract
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.processes import ReloaderProcess
from tests.fixtures.wheels import make_wheel

APP = """import pathlib
import streamlit as st

@st.cache_data
def load():
    return pathlib.Path("data/values.csv").read_text().strip()

st.title("Bench")
st.write("values " + load())
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        remote = GitRemote(root)
        wheels = root / "wheels"
        wheels.mkdir()
        make_wheel(wheels, "benchextra", "1.0", "")
        remote.commit({"streamlit_app.py": APP, "data/values.csv": "v0\n"})
        reloaders = {}
        for mode in ("data", "never"):
            (root / mode).mkdir()
            reloaders[mode] = ReloaderProcess(root / mode, remote.url,
                                              extra_env=contract.environment(clear_cache=mode, check="none"))  # fmt: skip
        try:
            for reloader in reloaders.values():
                reloader.wait_ready()
            clearing, keeping, visible = [], [], []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = {mode: browser.new_page() for mode in reloaders}
                for mode, page in pages.items():
                    page.goto(reloaders[mode].url)
                    page.get_by_text("values v0").wait_for(timeout=30_000)
                for n in range(1, runs + 1):
                    sha = remote.commit({"data/values.csv": f"v{n}\n"})
                    order = ("data", "never") if n % 2 else ("never", "data")
                    for mode in order:
                        started = time.perf_counter()
                        answer = reloaders[mode].sync(sha)
                        assert answer.status_code == 200, answer.text
                        (clearing if mode == "data" else keeping).append(
                            answer.json()["duration_ms"]
                        )
                        if mode == "data":
                            pages[mode].get_by_text(f"values v{n}").wait_for(timeout=20_000)
                            visible.append(time.perf_counter() - started)
                browser.close()
            added, removed = [], []
            reloader = reloaders["never"]
            for _ in range(runs):
                sha = remote.commit({"requirements.txt": f"--find-links {wheels}\nbenchextra\n"})
                added.append(reloader.sync(sha).json()["duration_ms"])
                sha = remote.commit({"requirements.txt": "# none\n"})
                removed.append(reloader.sync(sha).json()["duration_ms"])
        finally:
            for reloader in reloaders.values():
                reloader.stop()
    c, k = statistics.median(clearing), statistics.median(keeping)
    v = statistics.median(visible) * 1000
    a, r = statistics.median(added), statistics.median(removed)
    print(f"data file changed, {runs} runs: /sync duration with clear-cache data {c:.0f} ms, "
          f"with never {k:.0f} ms (the clear adds {c - k:.0f} ms, ratio {c / k:.2f}); /sync → new "
          f"values in the tab with data {v:.0f} ms (with never the tab keeps the old values)")  # fmt: skip
    print(f"requirements, {runs} runs: a wheel added {a:.0f} ms; the same wheel removed (uninstall "
          f"and restart) {r:.0f} ms; ratio {r / a:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
