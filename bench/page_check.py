"""What the page check costs per sync, against the same sync without it.

    python -m bench.page_check [--runs 8]

Two reloaders of one repository, each with a Chromium tab open: one with `PREVIEW_CHECK=page`
(the default), one with `none`. Each run commits a change and syncs both, alternating which
goes first, and measures:
- push-to-live: the signed /sync sent → the new text visible in the open tab (the check must
  not delay it);
- for the checked one, /sync sent → `/status` `page.checked_commit` is the new commit (what
  `open` and `sync` wait for before they report);
- script runs per sync, counted by the app itself (the check runs the script once more).
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

APP = (
    "import os, streamlit as st\n"
    "with open(os.environ['RUNS_FILE'], 'a') as runs:\n    runs.write('.')\n"
    "st.write('marker {n}')\n"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "git").mkdir()
        remote = GitRemote(root / "git")
        remote.commit({"streamlit_app.py": APP.format(n=0)}, "first")
        counters = {kind: root / f"runs-{kind}" for kind in ("page", "none")}
        reloaders = {}
        for kind in ("page", "none"):
            (root / kind).mkdir()
            counters[kind].write_text("")
            reloaders[kind] = ReloaderProcess(root / kind, remote.url, extra_env={
                **contract.environment(check=kind), "RUNS_FILE": str(counters[kind])})  # fmt: skip
            reloaders[kind].wait_ready()
        live: dict[str, list[float]] = {"page": [], "none": []}
        checked, script_runs = [], {"page": [], "none": []}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = {}
                for kind, reloader in reloaders.items():
                    pages[kind] = browser.new_page()
                    pages[kind].goto(reloader.url)
                    pages[kind].get_by_text("marker 0", exact=True).wait_for(timeout=30_000)
                time.sleep(2)  # the first checks are done
                for n in range(1, runs + 1):
                    sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
                    order = ("page", "none") if n % 2 else ("none", "page")
                    for kind in order:
                        before = len(counters[kind].read_text())
                        started = time.perf_counter()
                        assert reloaders[kind].sync(sha).status_code == 200
                        pages[kind].get_by_text(f"marker {n}", exact=True).wait_for(timeout=20_000)
                        live[kind].append(time.perf_counter() - started)
                        if kind == "page":
                            while (reloaders[kind].status().get("page") or {}).get(
                                "checked_commit"
                            ) != sha:
                                time.sleep(0.01)
                            checked.append(time.perf_counter() - started)
                        time.sleep(1)  # every run of this sync is over
                        script_runs[kind].append(len(counters[kind].read_text()) - before)
                browser.close()
        finally:
            for reloader in reloaders.values():
                reloader.stop()
    with_check, without = (
        statistics.median(live["page"]) * 1000,
        statistics.median(live["none"]) * 1000,
    )
    print(
        f"push-to-live in an open tab, median of {runs}: with the check {with_check:.0f} ms, "
        f"without {without:.0f} ms (ratio {with_check / without:.2f})"
    )
    print(f"/sync → page checked: {statistics.median(checked) * 1000:.0f} ms median")
    print(
        f"script runs per sync: with the check {statistics.median(script_runs['page']):.0f}, "
        f"without {statistics.median(script_runs['none']):.0f}"
    )


if __name__ == "__main__":
    main()
