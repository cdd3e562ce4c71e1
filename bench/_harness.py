"""What the benches share: the bench app, a repository holding it, a ready reloader, the floor
(a plain `streamlit run` with a tab, its files edited in place), and small waits."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.processes import ReloaderProcess, free_port

APP = 'import streamlit as st\nst.title("Bench")\nst.write("marker {n}")\n'


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def wait_text(page, text: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Return as soon as `text` is on the page: checked at every frame in the page itself
    (Playwright's own `wait_for` polls at 20, 50, 100 ms and more, which rounds a 90 ms
    update up to 120 or 220 ms)."""
    page.wait_for_function(
        "text => document.body && document.body.innerText.split('\\n').some(l => l.trim() === text)",
        arg=text, polling="raf", timeout=timeout * 1000,
    )  # fmt: skip


class InPlace:
    """The baseline: a plain `streamlit run` with a tab open, its files edited in place."""

    def __init__(self, browser, root: Path) -> None:  # type: ignore[no-untyped-def]
        self.folder = root / "floor"
        (self.folder / "data").mkdir(parents=True)
        self.app = self.folder / "app.py"
        self.app.write_text(APP.format(n=0))
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(self.app), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.runOnSave", "true",
             "--browser.gatherUsageStats", "false", "--browser.serverAddress", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder,
            env={"HOME": str(self.folder), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        _wait_health(f"http://127.0.0.1:{port}")
        self.page = browser.new_page()
        self.page.goto(f"http://127.0.0.1:{port}/")
        wait_text(self.page, "marker 0")

    def one_file(self, n: int) -> float:
        started = time.perf_counter()
        self.app.write_text(APP.format(n=n))
        wait_text(self.page, f"marker {n}")
        return time.perf_counter() - started

    def files_300(self, n: int) -> float:
        started = time.perf_counter()
        for i in range(299):
            (self.folder / "data" / f"file_{i:03}.txt").write_text(f"{n}-{i}\n")
        self.app.write_text(APP.format(n=n))
        wait_text(self.page, f"marker {n}")
        return time.perf_counter() - started

    def close(self) -> None:
        self.page.close()
        self.process.terminate()
        self.process.wait(10)


def _wait_health(base: str, timeout: float = 30) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(f"{base}/_stcore/health", timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError("streamlit did not start")


def bench_remote(root: Path, name: str) -> GitRemote:
    """A bare remote under `root/name` holding the bench app at marker 0."""
    (root / name).mkdir()
    remote = GitRemote(root / name)
    remote.commit({"streamlit_app.py": APP.format(n=0)})
    return remote


def ready_reloader(root: Path, name: str, remote: GitRemote) -> ReloaderProcess:
    (root / name).mkdir()
    reloader = ReloaderProcess(root / name, remote.url)
    reloader.wait_ready(timeout=60)
    return reloader
