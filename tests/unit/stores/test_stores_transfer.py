"""transfer_many: bounded parallelism, per-item results, registry/entry-point agreement."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from alebuild.cache.digest import digest_bytes
from alebuild.cache.remote import STORE_ENTRY_POINT_GROUP, FileStore, transfer_many
from alebuild.stores.registry import STORES


async def test_put_and_get_many_in_order(tmp_path: Path) -> None:
    store = FileStore((tmp_path / "r").as_uri())
    items = []
    for i in range(40):
        src = tmp_path / f"s{i}"
        src.write_bytes(f"blob {i}".encode())
        items.append((digest_bytes(src.read_bytes()), src))
    put = await transfer_many(store, items, "put_blob", limit=8)
    assert [r.item for r in put] == items
    assert all(r.ok and r.value is True for r in put)
    gets = [(d, tmp_path / "out" / f"g{i}") for i, (d, _) in enumerate(items)]
    got = await transfer_many(store, gets, "get_blob", limit=8)
    assert all(r.value is True for r in got)
    assert [p.read_bytes() for _, p in gets] == [s.read_bytes() for _, s in items]


async def test_errors_are_per_item(tmp_path: Path) -> None:
    store = FileStore((tmp_path / "r").as_uri())

    def op(_store, n: int) -> int:
        if n % 3 == 0:
            raise RuntimeError(f"boom {n}")
        return n * 10

    results = await transfer_many(store, range(7), op, limit=2)
    assert [r.value for r in results if r.ok] == [10, 20, 40, 50]
    assert [str(r.error) for r in results if not r.ok] == ["boom 0", "boom 3", "boom 6"]


@pytest.mark.parametrize("limit", [1, 3, 16])
async def test_concurrency_reaches_but_never_exceeds_limit(tmp_path: Path, limit: int) -> None:
    store = FileStore((tmp_path / "r").as_uri())
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    # Every wave of `limit` calls must meet at the barrier: a pool smaller than `limit`
    # would break it (timeout), a larger one would show in state["max"].
    barrier = threading.Barrier(limit, timeout=10)

    def op(_store, _n: int) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            barrier.wait()
        finally:
            with lock:
                state["now"] -= 1

    results = await transfer_many(store, range(limit * 3), op, limit=limit)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert state["max"] == limit


async def test_empty_items() -> None:
    assert await transfer_many(FileStore("file:///nonexistent"), [], "has_blob") == []


def test_builtin_stores_are_registered_as_entry_points() -> None:
    installed = {ep.name: ep.value for ep in entry_points(group=STORE_ENTRY_POINT_GROUP)}
    assert {k: installed.get(k) for k in STORES} == STORES
