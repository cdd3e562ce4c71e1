"""`streamlit-preview demo`: the whole product on this machine, in one command.

It makes a throw-away git repository with the example app, opens a local preview of it and
follows it: every commit in that repository is synced to the open tab. `--once` walks
through open, a new commit, sync and close, timing each step, and exits.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import lifecycle
from .backends.local import LocalBackend
from .config import Settings, build_settings, make_target
from .environment import Backend
from .errors import PreviewError

EXAMPLE_APP = Path(__file__).parent / "example_app"
DEMO_PR = 1
DEMO_REPOSITORY = "demo/demo-app"  # names the environment: demo-demo-app-pr-1
GREETING = "Hello from the main branch"  # the example app's MESSAGE
CHANGED_GREETING = "Hello from a pull request"


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=streamlit-preview demo", "-c", "user.email=demo@localhost",
         "-c", "commit.gpgsign=false", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise PreviewError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout.strip()


@contextmanager
def _step(name: str, say: Callable[[str], None]) -> Iterator[dict[str, str]]:
    started = time.monotonic()
    note: dict[str, str] = {}
    yield note
    say(f"  {name:<8} {time.monotonic() - started:6.2f} s  {note.get('detail', '')}".rstrip())


def _make_repository(root: Path) -> Path:
    repo = root / "demo-app"
    shutil.copytree(EXAMPLE_APP, repo, ignore=shutil.ignore_patterns("__pycache__"))
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "The demo app", cwd=repo)
    return repo


def run_demo(*, once: bool, state_dir: Path | None, say: Callable[[str], None]) -> int:
    root = Path(tempfile.mkdtemp(prefix="streamlit-preview-demo-"))
    backend = LocalBackend(state_dir)
    settings = None
    progress = (lambda line: say(f"           {line}")) if once else say
    try:
        say("streamlit-preview demo" + (" (open, commit, sync, close)" if once else ""))
        with _step("repo", say) as note:
            repo = _make_repository(root)
            note["detail"] = str(repo)
        target = make_target(repository=DEMO_REPOSITORY, repo_url=str(repo), branch="main",
                             pr=DEMO_PR, sha=None)  # fmt: skip
        settings = build_settings({}, target, needs_route=False)
        with _step("open", say) as note:
            env = lifecycle.open_environment(backend, settings, progress)
            note["detail"] = f"{env.url} at {(env.commit or '')[:12]}"
        if once:
            app = repo / "streamlit_app.py"
            with _step("commit", say) as note:
                app.write_text(app.read_text().replace(f'"{GREETING}"', f'"{CHANGED_GREETING}"'))
                _git("commit", "-q", "-am", "Change the greeting", cwd=repo)
                expected = _git("rev-parse", "HEAD", cwd=repo)
                note["detail"] = expected[:12]
            with _step("sync", say) as note:
                env = lifecycle.sync_environment(backend, settings, progress)
                if env.commit != expected:
                    raise PreviewError(f"sync answered {env.commit}, expected {expected}")
                note["detail"] = (
                    f"{expected[:12]} is live: the page's title is now {CHANGED_GREETING!r}"
                )
        else:
            _follow(repo, env.url or "", backend, settings, say)
    except KeyboardInterrupt:
        say("")
    finally:
        if settings is not None:
            with _step("close", say):
                lifecycle.close_environment(backend, settings, progress)
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _follow(
    repo: Path, url: str, backend: Backend, settings: Settings, say: Callable[[str], None]
) -> None:
    """Sync every new commit of the demo repository until interrupted."""
    say(f"\nOpen {url} and try:")
    say(f"  $EDITOR {repo / 'streamlit_app.py'}    # change MESSAGE")
    say(f"  git -C {repo} commit -am 'my change'")
    say("The open tab follows each commit in about a second. Ctrl-C closes everything.\n")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    head = _git("rev-parse", "HEAD", cwd=repo)
    while True:
        time.sleep(0.3)
        current = _git("rev-parse", "HEAD", cwd=repo)
        if current != head:
            with _step("sync", say) as note:
                env = lifecycle.sync_environment(backend, settings, lambda line: None)
                note["detail"] = f"{(env.commit or '')[:12]} is live at {url}"
            head = current
