"""`reloader/supervisor.py` and its launcher's command channel, in process (the process tests
in test_recovery.py and test_hardening.py run the real Streamlit child).

Covers: crash backoff grows for crashes in a row and resets after a stable run; waits wake the
moment the state becomes running; the launcher takes the answers to its commands out of
Streamlit's output and leaves every other line alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from streamlit_preview.reloader.launcher import ACK_PREFIX, Launcher
from streamlit_preview.reloader.options import StreamlitOptions
from streamlit_preview.reloader.supervisor import (
    BACKOFF_SECONDS,
    STABLE_AFTER_SECONDS,
    Record,
    StreamlitState,
    Supervisor,
)
from tests.fixtures.aio import run_async


def test_crashes_in_a_row_back_off_and_a_stable_run_resets_it():
    record = Record(started_at=100.0)
    delays = [record.crashed(101.0) for _ in range(len(BACKOFF_SECONDS) + 2)]
    assert delays == [*BACKOFF_SECONDS, BACKOFF_SECONDS[-1], BACKOFF_SECONDS[-1]]
    assert record.crashed(100.0 + STABLE_AFTER_SECONDS + 1) == 0  # it ran long enough


def test_a_wait_wakes_the_moment_streamlit_runs(tmp_path: Path):
    async def scenario() -> tuple[bool, float, bool]:
        options = StreamlitOptions(app="app.py", cwd=tmp_path, home=tmp_path / "home",
                                   bind="127.0.0.1", port=1)  # fmt: skip
        supervisor = Supervisor(options)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, supervisor._set_state, StreamlitState.RUNNING)
        started = loop.time()
        woke = await supervisor.wait_running(5)
        took = loop.time() - started
        supervisor._set_state(StreamlitState.CRASHED)
        gone = await supervisor.wait_running(0.05)
        await supervisor.close()
        return woke, took, gone

    woke, took, gone = run_async(scenario())
    assert woke and took < 1 and gone is False


def test_the_launcher_takes_its_answers_out_of_streamlits_output():
    async def scenario() -> tuple[str | None, list[bool]]:
        sent: list[bytes] = []
        stdin = SimpleNamespace(is_closing=lambda: False, write=sent.append, drain=_nothing)
        launcher = Launcher(SimpleNamespace(stdin=stdin), ["python"])  # type: ignore[arg-type]
        asking = asyncio.create_task(launcher.ask("clear data", timeout=2))
        await asyncio.sleep(0)
        seen = [launcher.acknowledge("  You can now view your Streamlit app"),
                launcher.acknowledge(f"{ACK_PREFIX}1 ok")]  # fmt: skip
        assert sent == [b"clear data 1\n"]
        return await asking, seen

    answer, seen = run_async(scenario())
    assert answer == "ok" and seen == [False, True]


async def _nothing() -> None:
    return None
