"""Issue 12's start-up and install rows inside the image, where the app environment sits beside
the image's packages. Root only: it runs the image with the test harness (netns, unshare).

    sudo python -m bench.in_image [--runs 5]

Each pair runs in the same image, in containers rendered by `streamlit-preview render`:
- cold start: container start → /readyz 200, against a container of the same image that runs
  `git clone --depth 1` + `python -m streamlit run` → health (the user's own way);
- requirement added (a local wheel served on the node, the commit changes only
  requirements.txt): signed /sync → answer, against `pip install` of that wheel alone into a
  fresh venv in the same image.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench._harness import APP
from devcluster.container import NODE_IP, ensure_bridge
from tests.fixtures.fileserver import FileServer
from tests.fixtures.githttp import GitHttpServer
from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.pods import RenderedPod, render
from tests.fixtures.wheels import make_wheel

ROOT = Path(__file__).resolve().parents[1]


def project_image() -> str:
    out = subprocess.run([str(ROOT / "scripts" / "build-image"), "--stand-in-base"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return out.splitlines()[0].strip()


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def ours(
    image: str, repo_url: str, wheel_url: str, remote: GitRemote, root: Path
) -> tuple[float, float]:
    """(cold start → /readyz, sync adding a requirement → answer) of one preview pod."""
    pod = RenderedPod(render(image, repo_url), root)
    try:
        started = time.monotonic()
        pod.start()
        wait_http(f"{pod.control_url}/readyz")
        cold = time.monotonic() - started
        # Only the requirement: with no tab open here, a changed .py file would also restart.
        sha = remote.commit({"requirements.txt": f"benchdep @ {wheel_url}\n"})
        started = time.monotonic()
        answer = pod.sync(sha)
        install = time.monotonic() - started
        assert answer.status_code == 200 and not pod.status()["last_error"], pod.log()
        if os.environ.get("BENCH_VERBOSE"):
            print(pod.log())
        remote.commit({"requirements.txt": None})
        return cold, install
    finally:
        pod.remove()


def _by_hand(image: str, repo_url: str, root: Path, script: str) -> RenderedPod:
    """A container of the preview pod's shape running `script` instead of the reloader."""
    pod = RenderedPod(render(image, repo_url), root)
    pod.spec.command, pod.spec.args = ["/bin/sh", "-c", script], []
    return pod


def baseline_cold(image: str, repo_url: str, root: Path) -> float:
    """Container start → health of `git clone --depth 1` + `python -m streamlit run`."""
    port = 8501
    pod = _by_hand(image, repo_url, root, (
        f"git clone -q --depth 1 {repo_url} /workspace/plain && cd /workspace/plain && "
        f"exec python -m streamlit run streamlit_app.py --server.port {port} "
        "--server.address 0.0.0.0 --server.headless true --browser.gatherUsageStats false "
        "--browser.serverAddress localhost"
    ))  # fmt: skip
    try:
        started = time.monotonic()
        pod.start()
        wait_http(f"http://{pod.ip}:{port}/_stcore/health")
        return time.monotonic() - started
    finally:
        pod.remove()


def baseline_pip(image: str, repo_url: str, wheel_url: str, root: Path) -> float:
    """`pip install` of the wheel alone into a fresh venv, timed inside the container."""
    pod = _by_hand(image, repo_url, root, (
        "python -m venv /tmp/fresh >/dev/null && s=$(date +%s%N) && "
        "/tmp/fresh/bin/python -m pip install -q --disable-pip-version-check "
        f"{wheel_url} && e=$(date +%s%N) && echo PIP_NS $((e-s)) && sleep 60"
    ))  # fmt: skip
    try:
        container = pod.start()
        deadline = time.monotonic() + 120
        while (found := re.search(r"PIP_NS (\d+)", container.log())) is None:
            if time.monotonic() > deadline or not container.running():
                raise RuntimeError(container.log())
            time.sleep(0.05)
        return int(found[1]) / 1e9
    finally:
        pod.remove()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    if os.geteuid() != 0:
        raise SystemExit("bench.in_image runs containers: run it as root")
    image = project_image()
    ensure_bridge()
    root = Path(tempfile.mkdtemp(prefix="bench-image-"))
    (root / "git").mkdir()
    remote = GitRemote(root / "git")
    remote.commit({"streamlit_app.py": APP.format(n=0)})
    files = root / "files"
    files.mkdir()
    make_wheel(files, "benchdep", "1.0", "VERSION = '1.0'\n")
    results: dict[str, list[float]] = {"cold": [], "base_cold": [], "install": [], "pip": []}
    with GitHttpServer(remote.root, None, host=NODE_IP) as git, FileServer(files, NODE_IP) as web:
        repo_url = git.url("remote.git")
        wheel_url = web.url("benchdep-1.0-py3-none-any.whl")
        for k in range(runs):
            cold, install = ours(image, repo_url, wheel_url, remote, root / f"ours{k}")
            base_cold = baseline_cold(image, repo_url, root / f"base{k}")
            pip = baseline_pip(image, repo_url, wheel_url, root / f"pip{k}")
            for key, value in zip(results, (cold, base_cold, install, pip), strict=True):
                results[key].append(value)
            print(f"run {k + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in results.items()))
    med = {key: statistics.median(values) * 1000 for key, values in results.items()}
    print(f"in the image ({image}), medians of {runs}:")
    print(f"| cold start → /readyz / clone + streamlit run → health | {med['cold']:.0f} ms | "
          f"{med['base_cold']:.0f} ms | **{med['cold'] / med['base_cold']:.2f}x** (goal ≤ 1.2x) |")  # fmt: skip
    print(f"| requirement added (local wheel): sync → answer / pip alone | {med['install']:.0f} ms | "
          f"{med['pip']:.0f} ms | **{med['install'] / med['pip']:.2f}x** (goal ≤ 1.0x) |")  # fmt: skip


if __name__ == "__main__":
    main()
