"""Where push-to-live spends its time, phase by phase, against the floor (issue 27).

    python -m bench.breakdown [--runs 9] [--check page|none]

One preview (a reloader on a real git repository) and one plain `streamlit run` (the floor:
the same edit written in place), each with a Chromium tab open. For every run, timestamps on
one clock (the epoch, in ms, from the moment the sync is sent or the file is written):

- the reloader's own steps, from `/sync`'s `phases_ms` (fetched, planned, written, reacted);
- the browser: the first WebSocket message after the change (Streamlit has noticed and the
  rerun has started), the message that carries the new text (the delta), the text in the DOM,
  and the frame after it (paint).

Medians of each column, for the one-file push, a restart (`.streamlit/config.toml` changes)
and a cold start (reloader start to /readyz). Nothing here asserts: it prints the table for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bench._harness import APP, InPlace, bench_remote

try:
    from streamlit_preview.reloader.contract import environment as reloader_env
except ImportError:  # a tree from before the contract table (a "before" run of this bench)

    def reloader_env(**values: str) -> dict[str, str]:  # type: ignore[misc]
        return {f"PREVIEW_{k.upper()}": v for k, v in values.items()}


from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.processes import ReloaderProcess

SPARE_READY_SECONDS = 4.0  # the supervisor makes its warm launcher 2 s after a start serves
# Epoch milliseconds of each WebSocket message, of the marker's arrival in the DOM, and of
# the frame after it.
PROBE = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__ws = [];
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", (event) => {
      const size = event.data.byteLength || event.data.size || event.data.length || 0;
      window.__ws.push([now(), size]);
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, Native);
  window.__seen = {};
  new MutationObserver(() => {
    const text = document.body ? document.body.innerText : "";
    for (const match of text.matchAll(/marker (\\d+)/g)) {
      if (!(match[1] in window.__seen)) {
        const at = now();
        window.__seen[match[1]] = [at, null];
        requestAnimationFrame(() => requestAnimationFrame(() => { window.__seen[match[1]][1] = now(); }));
      }
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def _browser_phases(page: Page, n: int, since: float) -> dict[str, float]:
    """Epoch ms of the browser's events for marker `n`, relative to `since` (epoch s)."""
    page.wait_for_function(f"window.__seen['{n}'] && window.__seen['{n}'][1]", timeout=30_000)
    seen, paint = page.evaluate(f"window.__seen['{n}']")
    messages = [m for m in page.evaluate("window.__ws") if m[0] >= since * 1000]
    origin = since * 1000
    first = messages[0][0] - origin if messages else float("nan")
    before_text = [m for m in messages if m[0] <= seen]
    delta = before_text[-1][0] - origin if before_text else float("nan")
    return {"rerun seen": first, "delta": delta, "in DOM": seen - origin, "painted": paint - origin}


def _synced_row(page: Page, reloader: ReloaderProcess, sha: str, n: int) -> dict[str, float]:
    """Sync to `sha`: the reloader's steps, its answer, and the browser's events for `n`."""
    since = time.time()
    answer = reloader.sync(sha).json()
    row = {f"reloader: {step}": ms for step, ms in answer.get("phases_ms", {}).items()}
    row["/sync answered"] = (time.time() - since) * 1000
    return row | _browser_phases(page, n, since)


def _median_table(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def one_file(page: Page, floor: InPlace, reloader: ReloaderProcess, remote, runs: int):  # type: ignore[no-untyped-def]
    preview_rows, floor_rows = [], []
    for n in range(1, runs + 1):
        since = time.time()
        floor.app.write_text(APP.format(n=n))
        floor_rows.append(_browser_phases(floor.page, n, since))
        time.sleep(0.3)
        sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
        preview_rows.append(_synced_row(page, reloader, sha, n))
        time.sleep(0.3)
    return _median_table(preview_rows), _median_table(floor_rows)


def restart(page: Page, reloader: ReloaderProcess, remote, runs: int, base: int):  # type: ignore[no-untyped-def]
    rows = []
    for k in range(runs):
        n = base + k
        sha = remote.commit({"streamlit_app.py": APP.format(n=n),
                             ".streamlit/config.toml": f"# restart {n}\n[theme]\nbase = 'light'\n"})  # fmt: skip
        rows.append(_synced_row(page, reloader, sha, n))
        time.sleep(SPARE_READY_SECONDS)  # pushes seconds apart: the warm launcher is there
    return _median_table(rows)


def cold_start(root: Path, remote, runs: int, check: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    starts, floors = [], []
    for k in range(runs):
        folder = root / f"cold{k}"
        folder.mkdir()
        started = time.perf_counter()
        reloader = ReloaderProcess(folder, remote.url, extra_env=reloader_env(check=check))
        reloader.wait_ready(60)
        starts.append((time.perf_counter() - started) * 1000)
        reloader.stop()
        floors.append(_clone_and_run(root / f"floor{k}", remote.url))
    return statistics.median(starts), statistics.median(floors)


def _clone_and_run(folder: Path, url: str) -> float:
    import httpx

    from tests.fixtures.processes import free_port

    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--depth", "1", url, str(folder)], check=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--browser.serverAddress", "127.0.0.1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"HOME": str(folder), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code
                    == 200
                ):
                    return (time.perf_counter() - started) * 1000
            except httpx.HTTPError:
                time.sleep(0.005)
    finally:
        process.terminate()
        process.wait(10)


def _print(title: str, row: dict[str, float]) -> None:
    print(f"\n{title}")
    for key, value in sorted(row.items(), key=lambda item: item[1]):
        print(f"  {value:8.1f} ms  {key}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--check", default="page", choices=("page", "none"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        root = Path(folder)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        remote = bench_remote(root, "git")
        (root / "r").mkdir()
        reloader = ReloaderProcess(root / "r", remote.url, extra_env=reloader_env(check=args.check))
        reloader.wait_ready(60)
        floor = InPlace(browser, root)
        floor.page.add_init_script(PROBE)
        floor.page.reload()
        floor.page.get_by_text("marker 0").wait_for()
        page = browser.new_page()
        page.add_init_script(PROBE)
        page.goto(reloader.url)
        page.get_by_text("marker 0").wait_for()
        try:
            preview, plain = one_file(page, floor, reloader, remote, args.runs)
            _print(f"one-file push, preview (check: {args.check}), median of {args.runs}", preview)
            _print("one-file edit in place, plain streamlit run (the floor)", plain)
            restarted = restart(page, reloader, remote, max(3, args.runs // 2), base=1000)
            _print("a restart (.streamlit/config.toml changed), with the tab open", restarted)
        finally:
            floor.close()
            reloader.stop()
        cold, cold_floor = cold_start(root, remote, max(3, args.runs // 2), args.check)
        print(f"\ncold start → /readyz: {cold:.0f} ms; git clone --depth 1 + streamlit run → health: "
              f"{cold_floor:.0f} ms; ratio {cold / cold_floor:.2f}")  # fmt: skip
        browser.close()


if __name__ == "__main__":
    main()
