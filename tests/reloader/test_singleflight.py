"""Coalescing: a burst costs few runs, and every answer comes from a run that began later."""

from __future__ import annotations

import asyncio
import time

from streamlit_preview.reloader.singleflight import SingleFlight
from tests.fixtures.aio import run_async


def test_burst_of_20_runs_at_most_3_times_and_answers_are_fresh():
    starts: list[float] = []

    async def job(keys: frozenset[int]) -> tuple[float, frozenset[int]]:
        started = time.monotonic()
        starts.append(started)
        await asyncio.sleep(0.05)
        return started, keys

    async def scenario() -> None:
        flight = SingleFlight[int, tuple[float, frozenset[int]]](job)

        async def call(i: int) -> None:
            await asyncio.sleep(i * 0.004)
            arrived = time.monotonic()
            started, keys = await flight(i)
            assert started >= arrived, "answered from a run that began before the call"
            assert i in keys

        await asyncio.gather(*(call(i) for i in range(20)))
        assert flight.runs <= 3

    run_async(scenario())
    assert len(starts) <= 3


def test_failure_reaches_every_caller_of_that_run_and_next_run_is_fresh():
    calls = 0

    async def job(keys: frozenset[int]) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("fetch failed")
        return calls

    async def scenario() -> None:
        flight = SingleFlight[int, int](job)
        results = await asyncio.gather(*(flight(i) for i in range(5)), return_exceptions=True)
        assert [type(r) for r in results] == [RuntimeError] * 5
        assert await flight(9) == 2

    run_async(scenario())
