"""Single-flight with coalescing: one run at a time, later callers share the next run.

Every caller gets the result of a run that started after it arrived, so a burst of N calls
costs at most two or three runs instead of N, and nobody gets a stale answer. A lone call
runs at once; a run queued behind another waits `settle` seconds so that the rest of a
burst, arriving spread out on a busy machine, joins it instead of starting yet another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """Call `job(keys)` with the keys of every caller coalesced into that run."""

    def __init__(
        self, job: Callable[[frozenset[K]], Awaitable[T]], *, settle: float = 0.05
    ) -> None:
        self._job = job
        self._settle = settle
        self._queued: tuple[asyncio.Future[T], set[K]] | None = None
        self._driver: asyncio.Task[None] | None = None
        self.runs = 0

    async def __call__(self, key: K | None = None) -> T:
        if self._queued is None:
            self._queued = (asyncio.get_running_loop().create_future(), set())
            if self._driver is None or self._driver.done():
                self._driver = asyncio.create_task(self._drive())
        future, keys = self._queued
        if key is not None:
            keys.add(key)
        return await asyncio.shield(future)

    async def _drive(self) -> None:
        first = True
        while self._queued is not None:
            if not first:
                # A burst is under way: let its stragglers join this run, not start another.
                await asyncio.sleep(self._settle)
            first = False
            (future, keys), self._queued = self._queued, None
            self.runs += 1
            try:
                result = await self._job(frozenset(keys))
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
