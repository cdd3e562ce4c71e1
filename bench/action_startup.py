"""The workflow path's own parts, measured: the action image's size (as stored, and compressed
as a registry serves it) and its start-up, from container start to its first Kubernetes
request, against a container of the same image that makes one HTTP request at once.

    python -m bench.action_startup [--runs 5]

Needs root and the project image (scripts/build-image). The Kubernetes API is a stand-in on
127.0.0.1 that records when the first request arrives and answers 503 (the run then fails,
which does not matter here: only its first request is timed). The two kinds of run alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fixtures.processes import ROOT

EVENT = {"action": "synchronize", "number": 7,
         "pull_request": {"number": 7, "head": {"ref": "main", "sha": "a" * 40,
                          "repo": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"}}},
         "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git",
                        "owner": {"type": "Organization"}}}  # fmt: skip


class FirstRequest(BaseHTTPRequestHandler):
    arrived: list[float] = []

    def do_GET(self) -> None:
        FirstRequest.arrived.append(time.perf_counter())
        self.send_response(503)
        self.end_headers()

    do_POST = do_PATCH = do_GET

    def log_message(self, *args: object) -> None:
        pass


def image_sizes(image: str, folder: Path) -> tuple[float, float]:
    """(MB unpacked, MB of gzip layers in an OCI layout: what a registry would send)."""
    layout = folder / "oci"
    subprocess.run(["buildah", "push", "--quiet", "--compression-format", "gzip", image, f"oci:{layout}"],
                   check=True, capture_output=True)  # fmt: skip
    compressed = sum(p.stat().st_size for p in (layout / "blobs").rglob("*") if p.is_file())
    return _unpacked_size(image) / 1e6, compressed / 1e6


def _unpacked_size(image: str) -> int:
    container = subprocess.run(["buildah", "from", "--pull-never", "--quiet", image], check=True,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
    try:
        mount = subprocess.run(
            ["buildah", "mount", container], check=True, capture_output=True, text=True
        ).stdout.strip()
        return int(
            subprocess.run(
                ["du", "-sb", mount], check=True, capture_output=True, text=True
            ).stdout.split()[0]
        )
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)


def one_start(image: str, args: list[str], env: dict[str, str]) -> float:
    """Seconds from `buildah run` to the stand-in API's first request."""
    container = subprocess.run(["buildah", "from", "--pull-never", "--quiet", image], check=True,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
    try:
        FirstRequest.arrived.clear()
        command = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        for key, value in env.items():
            command += ["--env", f"{key}={value}"]
        started = time.perf_counter()
        subprocess.run([*command, container, "--", *args], capture_output=True, timeout=120)
        if not FirstRequest.arrived:
            raise RuntimeError("the container made no request")
        return FirstRequest.arrived[0] - started
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    image = os.environ.get("PREVIEW_IMAGE") or subprocess.run(
        [str(ROOT / "scripts" / "build-image"), "--stand-in-base"], check=True, capture_output=True, text=True
    ).stdout.splitlines()[0]  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_address[1]}"
    kubeconfig = json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                             "clusters": [{"name": "c", "cluster": {"server": api}}],
                             "users": [{"name": "u", "user": {"token": "t"}}],
                             "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]})  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        stored, compressed = image_sizes(image, root)
        (root / "event.json").write_text(json.dumps(EVENT))
        action_env = {"INPUT_MODE": "sync", "INPUT_KUBECONFIG": kubeconfig, "INPUT_TOKEN": "",
                      "INPUT_ACCESS": "public", "INPUT_DOMAIN": "previews.example.com", "GITHUB_EVENT_NAME": "pull_request",
                      "GITHUB_EVENT_PATH": "/tmp/event.json", "GITHUB_REPOSITORY": "acme/shop"}  # fmt: skip
        event_copy = [
            "sh",
            "-c",
            f"echo '{json.dumps(EVENT)}' > /tmp/event.json && exec python /opt/streamlit-preview/entrypoint.py",
        ]
        baseline = [
            "python",
            "-c",
            f"import urllib.request as u\ntry: u.urlopen('{api}/')\nexcept Exception: pass",
        ]
        action, floor = [], []
        for _ in range(runs):
            action.append(one_start(image, event_copy, action_env))
            floor.append(one_start(image, baseline, {}))
    server.shutdown()
    a, f = statistics.median(action), statistics.median(floor)
    print(f"image: {stored:.0f} MB unpacked, {compressed:.0f} MB compressed (gzip layers)")
    print(
        f"action start-up, container start → first Kubernetes request: {a * 1000:.0f} ms median of {runs}; "
        f"the same image making one request at once: {f * 1000:.0f} ms; ratio {a / f:.2f}"
    )


if __name__ == "__main__":
    main()
