"""Open and close many environments against the API emulator: requests and time per environment.

    python -m bench.apply_scale [--count 200]

Reports API requests per open (excluding the rollout wait) and per close, render time, and
whether the cost per environment stays flat as the namespace fills (first half vs second).
"""

from __future__ import annotations

import argparse
import statistics
import time

from streamlit_preview import lifecycle
from streamlit_preview.backends.kubernetes import KubernetesBackend
from streamlit_preview.config import build_settings, make_target
from streamlit_preview.render import render_manifests
from tests.fixtures.apiserver import kubeconfig_for, running_api_server


def settings_for(pr: int):  # type: ignore[no-untyped-def]
    target = make_target(repository="octo/scale-app", repo_url="https://example.com/octo/scale-app.git",
                         branch=f"feature/{pr}", pr=pr, sha=None)  # fmt: skip
    return build_settings({"domain": "previews.example.com"}, target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count

    render_times = []
    for pr in range(1, 201):
        started = time.perf_counter()
        render_manifests(settings_for(pr), webhook_key="k" * 64)
        render_times.append(time.perf_counter() - started)

    with running_api_server(run_pods=False) as (_, url):
        kube = KubernetesBackend.connect(kubeconfig=kubeconfig_for(url), namespace="previews")
        kube._wait_for_rollout = lambda settings, progress: None  # measure the open itself

        def no_pod(settings):  # type: ignore[no-untyped-def]
            kube.requests += 1  # the /status read through the proxy still costs a request
            return {}

        kube._reloader_status = no_pod  # no reloader runs in this benchmark
        open_requests, open_times, close_requests, close_times = [], [], [], []
        for pr in range(1, count + 1):
            settings = settings_for(pr)
            before, started = kube.requests, time.perf_counter()
            lifecycle.open_environment(kube, settings, lambda line: None)
            open_times.append(time.perf_counter() - started)
            open_requests.append(kube.requests - before)
        for pr in range(1, count + 1):
            before, started = kube.requests, time.perf_counter()
            lifecycle.close_environment(kube, settings_for(pr), lambda line: None)
            close_times.append(time.perf_counter() - started)
            close_requests.append(kube.requests - before)

    half = count // 2
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"environments: {count}")
    print(f"render: median {ms(render_times):.2f} ms per environment")
    print(f"open:  {statistics.median(open_requests):.0f} requests (max {max(open_requests)}), "
          f"median {ms(open_times):.1f} ms; first half {ms(open_times[:half]):.1f} ms, "
          f"second half {ms(open_times[half:]):.1f} ms (ratio {ms(open_times[half:]) / ms(open_times[:half]):.2f})")  # fmt: skip
    print(f"close: {statistics.median(close_requests):.0f} requests (max {max(close_requests)}), "
          f"median {ms(close_times):.1f} ms; first half {ms(close_times[:half]):.1f} ms, "
          f"second half {ms(close_times[half:]):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
