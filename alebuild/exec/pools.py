"""Named resource pools (``jobs``, ``sandboxes``, ``llm``, ``local_cpu``) bounding concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

__all__ = ["Pools"]


class Pools:
    """A semaphore per named pool; a pool without a limit is unbounded.

    Units are acquired in sorted pool order so two actions can never deadlock on each other.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        for name, n in limits.items():
            if n < 1:
                raise ValueError(f"resource pool {name!r} needs a limit >= 1, got {n}")
        self.limits = dict(limits)
        self._sems = {name: asyncio.Semaphore(n) for name, n in limits.items()}

    @asynccontextmanager
    async def hold(self, wants: Mapping[str, int]) -> AsyncIterator[None]:
        taken: list[asyncio.Semaphore] = []
        try:
            for name in sorted(wants):
                sem = self._sems.get(name)
                if sem is None:
                    continue
                # A request above the pool's size would wait forever; clamp it to the pool.
                for _ in range(min(wants[name], self.limits[name])):
                    await sem.acquire()
                    taken.append(sem)
            yield
        finally:
            for sem in reversed(taken):
                sem.release()
