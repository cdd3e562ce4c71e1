"""What the receiver costs GitHub and how soon it answers GitHub.

    python -m bench.receiver_cost [--syncs 50] [--runs 5]

1. GitHub requests per sync: one pull request synced `--syncs` times through the reporter the
   action and the receiver share, against GitHub's API description (Prism) in front of the
   test fake. The requests of the 1st and of the last sync are counted; before issue 22 every
   sync listed the pull request's deployments and marked each earlier one inactive again.
2. The receiver's answer time with a 20 s sync behind it: a signed push delivered in process
   (Starlette's TestClient) to a receiver whose backend takes 20 s to sync; median of `--runs`
   against the answer time with an instant sync (the baseline, in the same process).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from starlette.testclient import TestClient

from streamlit_preview.environment import Environment, Status
from streamlit_preview.github import GitHub
from streamlit_preview.hook import Receiver, create_app
from streamlit_preview.reporting import PullRequestReporter
from tests.fixtures.github_mock import GitHubMock
from tests.fixtures.webhooks import delivery, push_payload

SECRET = b"bench"


def requests_per_sync(syncs: int) -> list[int]:
    with tempfile.TemporaryDirectory() as folder:
        mock = GitHubMock(Path(folder))
        mock.start()
        try:
            github = GitHub(token="ghs_bench", repository="acme/shop", api_url=mock.url)
            env = Environment(environment="acme-shop-pr-7", url="https://acme-shop-pr-7.example/",
                              commit=None, status=Status.RUNNING, pr=7, repository="acme/shop")  # fmt: skip
            counts = []
            for n in range(syncs):
                before = len(mock.fake.requests)
                reporter = PullRequestReporter(
                    github=github, environment=env.environment, pr=7, name=None, url=env.url,
                    comment=True, deployment=True, log_url=None, warn=print,
                )  # fmt: skip
                sha = f"{n + 1:040x}"
                reporter.started(sha)
                reporter.succeeded(replace(env, commit=sha))
                counts.append(len(mock.fake.requests) - before)
            return counts
        finally:
            mock.stop()


class SlowBackend:
    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def list(self) -> list[Environment]:
        return [Environment(environment="acme-shop-pr-7", url=None, commit=None, status=Status.RUNNING,
                            branch="main", pr=7, repository="acme/shop")]  # fmt: skip

    def sync_to(self, environment: Environment, *, sha: str, git_token: str | None = None) -> dict:
        time.sleep(self.seconds)
        return {"commit": sha, "changed": True, "restarted": False}


def answer_seconds(sync_seconds: float, runs: int) -> list[float]:
    times = []
    for n in range(runs):
        receiver = Receiver(SECRET, SlowBackend(sync_seconds))  # type: ignore[arg-type]
        client = TestClient(create_app(receiver))
        body, headers = delivery(SECRET, "push", push_payload(
            full_name="acme/shop", clone_url="https://github.com/acme/shop.git", branch="main",
            after=f"{n + 1:040x}"))  # fmt: skip
        started = time.perf_counter()
        answer = client.post("/", content=body, headers=headers)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 202, answer.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--syncs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    counts = requests_per_sync(args.syncs)
    print(f"GitHub requests per sync: 1st {counts[0]}, {args.syncs}th {counts[-1]} "
          f"(min {min(counts)}, max {max(counts)})")  # fmt: skip
    slow = statistics.median(answer_seconds(20.0, args.runs)) * 1000
    fast = statistics.median(answer_seconds(0.0, args.runs)) * 1000
    print(f"receiver answer, median of {args.runs}: {slow:.1f} ms with a 20 s sync behind it, "
          f"{fast:.1f} ms with an instant one (ratio {slow / fast:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
