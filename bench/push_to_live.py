"""Every row of issue 12 that needs a browser or a restart, each against its baseline.

    python -m bench.push_to_live [--runs 10]

Every number is a median of several runs, set against a baseline measured in the same run:
- one file / 300 files: signed /sync sent → the new text visible in an open Chromium tab,
  against the same edit written in place under a plain `streamlit run` with a tab open;
- requirement added / upgraded (a local wheel): /sync → visible, against `pip install` of
  that wheel alone into a fresh virtualenv (then of its next version over it);
- a sync that restarts Streamlit because no tab is open, against a plain `streamlit run` →
  health;
- cold start: reloader start → /readyz 200, against `git clone --depth 1` + `streamlit run` →
  health;
- error flashes over 20 multi-file updates; the reloader's RSS; the app environment's disk use.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench._harness import (
    APP,
    InPlace,
    _wait_health,
    bench_remote,
    median_ms,
    ready_reloader,
    wait_text,
)
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, ERROR_RECORDER
from tests.fixtures.processes import free_port
from tests.fixtures.wheels import make_wheel


def push_to_live(browser, root: Path, runs: int) -> dict[str, list[float] | float]:  # type: ignore[no-untyped-def]
    """Our rows, each one-file and 300-file run alternating with the same edit in place."""
    remote = bench_remote(root, "git")
    reloader = ready_reloader(root, "r", remote)
    in_place = InPlace(browser, root)
    page = browser.new_page()
    page.add_init_script(ERROR_RECORDER)
    page.goto(reloader.url)
    wait_text(page, "marker 0")
    results: dict[str, list[float] | float] = {}
    try:
        one_file, floor_one = [], []
        for n in range(1, runs + 1):
            floor_one.append(in_place.one_file(n))
            sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
            started = time.perf_counter()
            assert reloader.sync(sha).json()["commit"] == sha
            wait_text(page, f"marker {n}")
            one_file.append(time.perf_counter() - started)
            time.sleep(0.3)
        results["one_file"], results["floor_one"] = one_file, floor_one

        many, floor_many = [], []
        base = runs + 1
        for k in range(5):
            n = base + k
            floor_many.append(in_place.files_300(n))
            files = {f"data/file_{i:03}.txt": f"{n}-{i}\n" for i in range(299)}
            files["streamlit_app.py"] = APP.format(n=n)
            sha = remote.commit(files)
            started = time.perf_counter()
            reloader.sync(sha)
            wait_text(page, f"marker {n}")
            many.append(time.perf_counter() - started)
            time.sleep(0.3)
        results["files_300"], results["floor_many"] = many, floor_many
        in_place.close()

        flashes_before = len(page.evaluate("window.__previewErrors"))
        base += 5
        for k in range(20):
            n = base + k
            files = {f"helpers/m{n}.py": f"VALUE = 'marker {n}'\n", "helpers/__init__.py": "",
                     "streamlit_app.py": f"import streamlit as st\nfrom helpers.m{n} import VALUE\nst.title('Bench')\nst.write(VALUE)\n"}  # fmt: skip
            if k:
                files[f"helpers/m{n - 1}.py"] = None
            reloader.sync(remote.commit(files))
            wait_text(page, f"marker {n}")
        results["flashes"] = len(page.evaluate("window.__previewErrors")) - flashes_before
        results["multi_file_updates"] = 20

        base += 20
        added, upgraded = [], []
        for k in range(6):
            n = base + k
            # The first three add a new package (the common case); the last three change the
            # version of one already imported, which needs a Streamlit restart.
            name, version = (f"benchdep{k}", "1.0") if k < 3 else ("benchdep0", f"1.{k}")
            wheel = make_wheel(root, name, version, f"VERSION = '{version}'\n")
            lines = "".join(
                f"benchdep{j} @ {(root / f'benchdep{j}-1.0-py3-none-any.whl').as_uri()}\n"
                for j in range(min(k, 3))
                if j
            )
            requirement = f"{name} @ {wheel.as_uri()}\n" + lines
            app = f"import streamlit as st\nimport {name}\nst.title('Bench')\nst.write('marker {n}', {name}.VERSION)\n"
            sha = remote.commit({"requirements.txt": requirement, "streamlit_app.py": app})
            started = time.perf_counter()
            reloader.sync(sha)
            page.get_by_text(f"marker {n}").first.wait_for(timeout=60_000)
            (added if k < 3 else upgraded).append(time.perf_counter() - started)
        results["requirements_added"] = added
        results["requirements_upgraded"] = upgraded
        results["app_env_mb"] = _app_env_megabytes(reloader.process.pid)
        rss = Path(f"/proc/{reloader.process.pid}/status").read_text()
        results["rss_mb"] = (
            int(next(ln for ln in rss.splitlines() if ln.startswith("VmRSS")).split()[1]) / 1024
        )
    finally:
        page.close()
        reloader.stop()
    return results


def _app_env_megabytes(reloader_pid: int) -> float:
    """Disk use of the app environment of the reloader `reloader_pid` (its runtime folder)."""
    for owner in Path(tempfile.gettempdir()).glob("streamlit-preview-*/reloader.owner"):
        if owner.read_text().split()[0] == str(reloader_pid):
            env = owner.parent / "app-env"
            return (
                sum(f.stat().st_size for f in env.rglob("*") if f.is_file() and not f.is_symlink())
                / 1e6
            )
    return float("nan")


def restart_without_viewers(root: Path, runs: int) -> tuple[list[float], list[float]]:
    """A .py sync while no tab is open restarts Streamlit (stale modules): (its duration, a
    plain `streamlit run` → health), alternating."""
    remote = bench_remote(root, "nv")
    reloader = ready_reloader(root, "nvr", remote)
    ours, plain = [], []
    try:
        for n in range(1, runs + 1):
            plain.append(plain_start(root / f"plain-start{n}"))
            time.sleep(1.0)
            sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
            started = time.perf_counter()
            body = reloader.sync(sha).json()
            ours.append(time.perf_counter() - started)
            assert body["restarted"], body
    finally:
        reloader.stop()
    return ours, plain


def pip_alone(root: Path, runs: int = 3) -> tuple[list[float], list[float]]:
    """What a user would do without us: (`pip install` of a new local wheel into a fresh
    venv, `pip install` of its next version over it), each timed alone."""
    added, upgraded = [], []
    for k in range(runs):
        folder = root / f"pip{k}"
        folder.mkdir()
        old = make_wheel(folder, "benchdep", "1.0", "VERSION = '1.0'\n")
        new = make_wheel(folder, "benchdep", "1.1", "VERSION = '1.1'\n")
        venv.EnvBuilder(with_pip=True).create(folder / "venv")
        pip = [str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check", "--no-index"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run([*pip, str(old)], check=True)
        added.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([*pip, str(new)], check=True)
        upgraded.append(time.perf_counter() - started)
    return added, upgraded


def plain_start(folder: Path) -> float:
    """`streamlit run` of the bench app → health: what a restart costs Streamlit itself."""
    folder.mkdir()
    (folder / "streamlit_app.py").write_text(APP.format(n=0))
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--browser.serverAddress", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder, env={"HOME": str(folder), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    _wait_health(f"http://127.0.0.1:{port}")
    elapsed = time.perf_counter() - started
    process.terminate()
    process.wait(10)
    return elapsed


def cold_start(root: Path, runs: int) -> tuple[list[float], list[float]]:
    remote = bench_remote(root, "cold")
    ours, baseline = [], []
    for k in range(runs):
        folder = root / f"cold{k}"
        started = time.perf_counter()
        reloader = ready_reloader(root, f"cold{k}", remote)
        ours.append(time.perf_counter() - started)
        reloader.stop()

        clone = folder / "plain"
        started = time.perf_counter()
        subprocess.run(["git", "clone", "-q", "--depth", "1", remote.url, str(clone)], check=True)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(clone / "streamlit_app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=clone, env={"HOME": str(folder), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        _wait_health(f"http://127.0.0.1:{port}")
        baseline.append(time.perf_counter() - started)
        process.terminate()
        process.wait(10)
    return ours, baseline


def _row(name: str, ours: list[float], baseline: list[float] | None, goal: str) -> str:
    mine = median_ms(ours)
    if baseline is None:
        return f"| {name} | {mine:.0f} ms ({len(ours)}) | | {goal} |"
    base = median_ms(baseline)
    return f"| {name} | {mine:.0f} ms ({len(ours)}) | {base:.0f} ms ({len(baseline)}) | **{mine / base:.2f}x** (goal {goal}) |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    root = Path(tempfile.mkdtemp(prefix="bench-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = push_to_live(browser, root, runs)
        floor_one, floor_many = results["floor_one"], results["floor_many"]
        browser.close()
    pip_added, pip_upgraded = pip_alone(root)
    no_viewers, plain = restart_without_viewers(root, 7)
    ours, baseline = cold_start(root, 7)
    print("| measure (median, runs) | ours | baseline | ratio |")
    print("|---|---|---|---|")
    print(
        _row(
            "one-file commit → visible / the edit in place",
            results["one_file"],
            floor_one,
            "≤ 1.3x",
        )
    )  # type: ignore[arg-type]
    print(
        _row(
            "300-file commit → visible / the files written in place",
            results["files_300"],
            floor_many,
            "≤ 1.5x",
        )
    )  # type: ignore[arg-type]
    print(
        _row(
            "requirement added (local wheel) → visible / pip alone",
            results["requirements_added"],
            pip_added,
            "≤ 1.0x",
        )
    )  # type: ignore[arg-type]
    print(
        _row(
            "requirement upgraded (restart) → visible / pip alone",
            results["requirements_upgraded"],
            pip_upgraded,
            "≤ 2.5x",
        )
    )  # type: ignore[arg-type]
    print(
        _row(
            "sync restarting Streamlit (no tab) / streamlit run → health",
            no_viewers,
            plain,
            "≤ 1.3x",
        )
    )
    print(_row("cold start → /readyz / clone + streamlit run → health", ours, baseline, "≤ 1.2x"))
    print(
        f"error flashes: {results['flashes']} over {results['multi_file_updates']} multi-file updates"
    )
    print(
        f"reloader RSS without Streamlit: {results['rss_mb']:.0f} MB; app environment on disk: {results['app_env_mb'] * 1000:.0f} kB"
    )


if __name__ == "__main__":
    main()
