"""Two rows of issue 12 that had no number yet: an idle preview's CPU, and a requirement added
from the package index.

    python -m bench.idle_and_index [--runs 3] [--idle-seconds 30]

- idle CPU: CPU seconds of the reloader and its Streamlit over `--idle-seconds` with no tab
  open, against a plain `streamlit run` of the same app over the same time (the baseline);
- index install: signed /sync of a commit that only adds `tabulate` to requirements.txt → answer,
  against `pip install tabulate` into a fresh virtualenv (the baseline), both from the index.
Medians of `--runs`, each baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from bench._harness import _wait_health, bench_remote, ready_reloader
from tests.fixtures.processes import free_port

CLOCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """CPU of a process and all its living descendants (utime + stime)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        stack += [int(c) for c in children]
    return total


def _idle(pid: int, seconds: float) -> float:
    before = _cpu_seconds(pid)
    time.sleep(seconds)
    return _cpu_seconds(pid) - before


def idle_cpu(root: Path, seconds: float) -> tuple[float, float]:
    """(ours, plain Streamlit) CPU seconds over `seconds` of idling."""
    remote = bench_remote(root, "idle-git")
    reloader = ready_reloader(root, "idle", remote)
    try:
        time.sleep(3)  # past start-up
        ours = _idle(reloader.process.pid, seconds)
    finally:
        reloader.stop()
    folder = root / "plain"
    folder.mkdir()
    (folder / "app.py").write_text('import streamlit as st\nst.title("Bench")\n')
    port = free_port()
    plain = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--server.runOnSave", "true", "--browser.gatherUsageStats", "false",
         "--browser.serverAddress", "127.0.0.1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | {"HOME": str(folder)},
    )  # fmt: skip
    try:
        _wait_health(f"http://127.0.0.1:{port}")
        time.sleep(3)
        baseline = _idle(plain.pid, seconds)
    finally:
        plain.terminate()
        plain.wait(10)
    return ours, baseline


def index_install(root: Path) -> tuple[float, float]:
    """(sync adding tabulate → answer, pip install tabulate into a fresh venv) in seconds."""
    remote = bench_remote(root, "index-git")
    reloader = ready_reloader(root, "index", remote)
    try:
        # Only the requirement: with no tab open, a changed .py file would also restart Streamlit.
        new = remote.commit({"requirements.txt": "tabulate\n"})
        started = time.monotonic()
        answer = reloader.sync(new)
        ours = time.monotonic() - started
        assert answer.status_code == 200 and not reloader.status()["last_error"], reloader.log()
    finally:
        reloader.stop()
    env_dir = root / "fresh-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    started = time.monotonic()
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-cache-dir", "tabulate"], check=True)  # fmt: skip
    return ours, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    idle, index = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            idle.append(idle_cpu(Path(tmp), args.idle_seconds))
        with tempfile.TemporaryDirectory() as tmp:
            index.append(index_install(Path(tmp)))
        print(f"run {run + 1}: idle {idle[-1]}, index {index[-1]}", file=sys.stderr)
    ours_idle = statistics.median(i[0] for i in idle)
    plain_idle = statistics.median(i[1] for i in idle)
    ours_index = statistics.median(i[0] for i in index)
    pip_index = statistics.median(i[1] for i in index)
    print(f"idle CPU over {args.idle_seconds:.0f} s: ours {ours_idle:.2f} s "
          f"({100 * ours_idle / args.idle_seconds:.2f}% of a core), plain streamlit {plain_idle:.2f} s")  # fmt: skip
    print(f"requirement from the index (tabulate): sync {ours_index:.2f} s, pip alone {pip_index:.2f} s "
          f"({ours_index / pip_index:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
