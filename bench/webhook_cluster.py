"""The webhook path on the development cluster, through the router, against a direct sync.

    eval "$(scripts/cluster up)"; sudo -E python -m bench.webhook_cluster [--runs 6]

A public preview (`router: ingress`) with a Chromium tab open on it by host name over https,
and the webhook receiver as a pod (the chart's `receiver`, devcluster/chart.py) behind
`https://hooks.<domain>/`. Each run commits a change to a real repository served on the node,
then either posts a delivery signed as GitHub signs it to the receiver through Traefik, or runs
`streamlit-preview sync --backend kubernetes` (through the API server's service proxy), and
stops the clock when the new text is visible in the tab. The two alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from devcluster.chart import RECEIVER_RELEASE, receiver_release
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.edge import router_client, spki
from tests.fixtures.githttp import GitHttpServer
from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.processes import ROOT
from tests.fixtures.webhooks import delivery, push_payload

APP = 'import streamlit as st\nst.title("Bench")\nst.write("marker {n}")\n'
SECRET = b"bench-cluster-webhook-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    runs = parser.parse_args().runs
    env = os.environ
    edge = {k: env[k] for k in ("PREVIEW_DOMAIN", "ROUTER_IP", "PREVIEW_CA")}
    admin = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
    webhook: list[float] = []
    direct: list[float] = []
    with (
        receiver_release(admin, image=env["PREVIEW_IMAGE"], domain=edge["PREVIEW_DOMAIN"],
                         secret=SECRET, repository="acme/bench"),
        tempfile.TemporaryDirectory() as folder,
    ):  # fmt: skip
        root = Path(folder)
        (root / "git").mkdir()
        remote = GitRemote(root / "git")
        remote.commit({"streamlit_app.py": APP.format(n=0)}, "first")
        common = [
            "--backend",
            "kubernetes",
            "--kubeconfig",
            env["KUBECONFIG"],
            "--namespace",
            RECEIVER_RELEASE[2],
        ]
        with GitHttpServer(remote.root, None, host=env["NODE_IP"]) as server:
            repo = server.url("remote.git")
            target = ["--repo", repo, "--repository", "acme/bench", "--pr", "99"]
            opened = json.loads(subprocess.run(
                [sys.executable, "-m", "streamlit_preview", "open", *target, "--branch", "main", "--router", "ingress",
                 "--access", "public", "--domain", edge["PREVIEW_DOMAIN"], "--image", env["PREVIEW_IMAGE"],
                 "--json", *common], check=True, capture_output=True, text=True, cwd=ROOT).stdout)  # fmt: skip
            try:
                with router_client(edge) as client, sync_playwright() as playwright:
                    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP *.{edge['PREVIEW_DOMAIN']} {edge['ROUTER_IP']}",
                            f"--ignore-certificate-errors-spki-list={spki(edge['PREVIEW_CA'])}"]  # fmt: skip
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
                    page = browser.new_page()
                    page.goto(opened["url"])
                    page.get_by_text("marker 0", exact=True).wait_for(timeout=60_000)
                    hooks = f"https://hooks.{edge['PREVIEW_DOMAIN']}/"
                    deadline = time.monotonic() + 120  # the receiver's pod, then its route
                    while time.monotonic() < deadline:
                        body, headers = delivery(SECRET, "ping", {})
                        if client.post(hooks, content=body, headers=headers).status_code == 200:
                            break
                        time.sleep(1)
                    for n in range(1, 2 * runs + 1):
                        sha = remote.commit({"streamlit_app.py": APP.format(n=n)})
                        started = time.perf_counter()
                        if n % 2:
                            payload = push_payload(
                                full_name="acme/bench", clone_url=repo, branch="main", after=sha
                            )
                            body, headers = delivery(SECRET, "push", payload)
                            answer = client.post(hooks, content=body, headers=headers)
                            assert answer.status_code == 202, answer.text
                        else:
                            subprocess.run([sys.executable, "-m", "streamlit_preview", "sync", *target, "--check", "none",
                                            *common], check=True, capture_output=True, cwd=ROOT)  # fmt: skip
                        page.get_by_text(f"marker {n}", exact=True).wait_for(timeout=30_000)
                        (webhook if n % 2 else direct).append(time.perf_counter() - started)
                    browser.close()
            finally:
                subprocess.run([sys.executable, "-m", "streamlit_preview", "close", *target, *common],
                               capture_output=True, cwd=ROOT)  # fmt: skip
    w, d = statistics.median(webhook) * 1000, statistics.median(direct) * 1000
    print(
        f"development cluster, through Traefik, {runs} runs each: push → delivery to the receiver pod → tab "
        f"{w:.0f} ms; push → `streamlit-preview sync --backend kubernetes` → tab {d:.0f} ms; ratio {w / d:.2f}"
    )


if __name__ == "__main__":
    main()
