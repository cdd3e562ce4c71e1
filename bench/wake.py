"""Sleep and wake on the development cluster: from the first request of a sleeping preview to
the app's first rendered element, through Traefik, in Chromium; against a cold `open` of the
same app (from the open's start to the same element); and the memory a sleeping preview frees.

    eval "$(scripts/cluster up)"; sudo -E python -m bench.wake [--runs 5]

Each run opens a public preview of the example app with `sleep-after: 3s`, waits until the
receiver put it to sleep (zero pods), then opens its deep link in a fresh page and stops the
clock when the app's text is on the page. The cold open of the same run is timed the same way:
`open` (the Deployment applied, the pod started, the clone, Streamlit) then the page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from bench._harness import wait_text
from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.environment import Status
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.edge import spki
from tests.fixtures.githttp import GitHttpServer
from tests.fixtures.gitrepo import GitRemote

APP = 'import streamlit as st\nst.title("Wake bench")\nst.write("marker {n}")\n'


def _pod_memory_mb(namespace_ip: str) -> float:
    """RSS of every process in the pod's network namespace (the reloader and Streamlit)."""
    pids = subprocess.run(["ip", "netns", "pids", "sp-" + namespace_ip.replace(".", "-")],
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    env = os.environ
    domain, router_ip, ca = env["PREVIEW_DOMAIN"], env["ROUTER_IP"], env["PREVIEW_CA"]
    admin = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
    backend = KubernetesBackend.connect(kubeconfig=admin, namespace="previews")
    wakes: list[float] = []
    opens: list[float] = []
    memory: list[float] = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        (Path(folder) / "git").mkdir()
        remote = GitRemote(Path(folder) / "git")
        remote.commit({"streamlit_app.py": APP.format(n=0)}, "first")
        args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP *.{domain} {router_ip}",
                f"--ignore-certificate-errors-spki-list={spki(ca)}"]  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        with GitHttpServer(remote.root, None, host=env["NODE_IP"]) as server:
            for n in range(1, runs + 1):
                target = make_target(repository="acme/wake-bench", repo_url=server.url("remote.git"),
                                     branch="main", pr=700 + n, sha=None)  # fmt: skip
                settings = build_settings({"domain": domain, "router": "ingress", "access": "public",
                                           "image": env["PREVIEW_IMAGE"], "sleep-after": "3s"}, target)  # fmt: skip
                try:
                    page = browser.new_page()
                    started = time.perf_counter()
                    opened = lifecycle.open_environment(backend, settings, lambda _: None)
                    page.goto(opened.url or "")
                    wait_text(page, "marker 0", timeout=60)
                    opens.append(time.perf_counter() - started)
                    page.close()
                    pods = backend._pods(settings.environment)
                    ip = pods[0]["status"]["podIP"] if pods else ""
                    memory.append(_pod_memory_mb(ip) if ip else 0.0)
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        found = {e.environment: e for e in backend.list()}
                        if found[
                            settings.environment
                        ].status is Status.SLEEPING and not backend._pods(settings.environment):
                            break
                        time.sleep(0.5)
                    page = browser.new_page()
                    started = time.perf_counter()
                    page.goto((opened.url or "") + "?from=bench")
                    wait_text(page, "marker 0", timeout=60)
                    wakes.append(time.perf_counter() - started)
                    page.close()
                finally:
                    lifecycle.close_environment(backend, settings, lambda _: None)
        browser.close()
    w, o = statistics.median(wakes), statistics.median(opens)
    print(
        f"development cluster, through Traefik, in Chromium, {runs} runs: wake (first request of a "
        f"sleeping preview → the app's first element) {w:.2f} s; cold open (open → the same element) "
        f"{o:.2f} s; ratio {w / o:.2f}; a sleeping preview frees {statistics.median(memory):.0f} MB "
        f"(the pod's RSS, median)"
    )


if __name__ == "__main__":
    main()
