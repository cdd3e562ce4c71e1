"""Push-to-tab through the webhook receiver, against the same sync made with the command line.

    python -m bench.webhook [--runs 8]

On the local backend: one preview with a Chromium tab open on it. Each run commits a change to
a real git repository, then either
- (webhook) posts a delivery signed as GitHub signs it to a running `streamlit-preview hook`, or
- (direct) runs `streamlit-preview sync` as the workflow's job would (without its runner and
  image: those come on top, see RESULTS.md),
and stops the clock when the new text is visible in the tab. The two alternate, so both see
the same machine; medians, and their ratio. Goal: webhook at most 1.2 times direct.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.processes import ROOT, free_port
from tests.fixtures.webhooks import delivery, push_payload

APP = 'import streamlit as st\nst.title("Bench")\nst.write("marker {n}")\n'
SECRET = b"bench-webhook-secret"


def cli(*args: str, state: Path) -> str:
    return subprocess.run([sys.executable, "-m", "streamlit_preview", *args, "--state-dir", str(state)],
                          check=True, capture_output=True, text=True, cwd=ROOT).stdout  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "git").mkdir()
        remote = GitRemote(root / "git")
        remote.commit({"streamlit_app.py": APP.format(n=0)}, "first")
        state = root / "state"
        env = json.loads(cli("open", "--repo", remote.url, "--repository", "acme/bench", "--branch", "main",
                             "--pr", "1", "--json", state=state))  # fmt: skip
        (root / "secret").write_bytes(SECRET)
        port = free_port()
        hook = subprocess.Popen(
            [sys.executable, "-m", "streamlit_preview", "hook", "--listen", f"127.0.0.1:{port}",
             "--secret-file", str(root / "secret"), "--state-dir", str(state)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                if httpx.get(url + "healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        webhook, direct = [], []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(env["url"])
                page.get_by_text("marker 0").wait_for(timeout=30_000)
                for n in range(1, 2 * runs + 1):
                    sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
                    started = time.perf_counter()
                    if n % 2:
                        payload = push_payload(
                            full_name="acme/bench", clone_url=remote.url, branch="main", after=sha
                        )
                        body, headers = delivery(SECRET, "push", payload)
                        answer = httpx.post(url, content=body, headers=headers, timeout=60)
                        assert answer.status_code == 202, answer.text
                    else:
                        cli(
                            "sync",
                            "--repo",
                            remote.url,
                            "--repository",
                            "acme/bench",
                            "--pr",
                            "1",
                            state=state,
                        )
                    page.get_by_text(f"marker {n}", exact=True).wait_for(timeout=20_000)
                    (webhook if n % 2 else direct).append(time.perf_counter() - started)
                browser.close()
        finally:
            hook.terminate()
            cli(
                "close",
                "--repo",
                remote.url,
                "--repository",
                "acme/bench",
                "--pr",
                "1",
                state=state,
            )
    w, d = statistics.median(webhook) * 1000, statistics.median(direct) * 1000
    print(
        f"local backend, {runs} runs each: push → signed delivery → tab {w:.0f} ms; "
        f"push → `streamlit-preview sync` → tab {d:.0f} ms; ratio {w / d:.2f}"
    )


if __name__ == "__main__":
    main()
