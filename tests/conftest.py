"""Fixtures: clean environment, git remotes, reloader processes, a browser page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.gitrepo import GitRemote
from tests.fixtures.processes import ReloaderProcess

APP_V1 = 'import streamlit as st\n\nst.title("Hello version 1")\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No runner, action, reloader or cluster settings leak in from the outside."""
    for key in list(os.environ):
        if key.startswith(("GITHUB_", "INPUT_", "PREVIEW_", "RUNNER_")) or key == "KUBECONFIG":
            monkeypatch.delenv(key)


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    """A bare remote with one Streamlit app commit on `main`."""
    root = tmp_path / "git"
    root.mkdir()
    repo = GitRemote(root)
    repo.commit({"streamlit_app.py": APP_V1}, "first")
    return repo


@pytest.fixture
def start_reloader(tmp_path: Path) -> Iterator:
    started: list[ReloaderProcess] = []

    def start(repo: str, **kwargs) -> ReloaderProcess:  # type: ignore[no-untyped-def]
        folder = tmp_path / f"reloader{len(started)}"
        folder.mkdir()
        process = ReloaderProcess(folder, repo, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def reloader(remote: GitRemote, start_reloader) -> ReloaderProcess:  # type: ignore[no-untyped-def]
    process = start_reloader(remote.url)
    process.wait_ready()
    return process


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator:
    """One Playwright per test run: its sync API runs an event loop in this thread, and a
    second one (or asyncio.run) beside it is refused."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator:  # type: ignore[no-untyped-def]
    instance = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@pytest.fixture
def page(browser) -> Iterator:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def github_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Prism (GitHub's OpenAPI description) in front of a stateful fake; reset per test."""
    from tests.fixtures.github_mock import GitHubMock

    mock = GitHubMock(tmp_path_factory.mktemp("github"))
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def github(github_mock):  # type: ignore[no-untyped-def]
    github_mock.fake.reset()
    return github_mock


# -- the project image and the node's services (tests/image, tests/cluster) ---------------


@pytest.fixture(scope="session")
def project_image() -> str:
    """The project image built by scripts/build-image on the stand-in base (cached by inputs)."""
    from devcluster.container import can_run_containers

    reason = can_run_containers()
    if reason:
        pytest.skip(reason)
    if os.environ.get("PREVIEW_IMAGE"):
        return os.environ["PREVIEW_IMAGE"]
    import subprocess

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [str(root / "scripts" / "build-image"), "--stand-in-base"],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"scripts/build-image failed:\n{result.stderr[-4000:]}")
    return result.stdout.splitlines()[0]


@pytest.fixture
def node_git(remote: GitRemote, project_image: str) -> Iterator:
    """`remote` served over HTTP on the node's address, where pods reach it."""
    from devcluster.container import NODE_IP, ensure_bridge
    from tests.fixtures.githttp import GitHttpServer

    ensure_bridge()
    with GitHttpServer(remote.root, None, host=NODE_IP) as server:
        yield server


@pytest.fixture
def node_files(tmp_path: Path, project_image: str) -> Iterator:
    """A plain file server on the node's address (wheels for requirement tests)."""
    from devcluster.container import NODE_IP, ensure_bridge
    from tests.fixtures.fileserver import FileServer

    ensure_bridge()
    with FileServer(tmp_path / "node-files", NODE_IP) as server:
        yield server
