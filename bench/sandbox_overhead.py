"""Sandbox overhead of the local provider (a benchmark, not a test).

Prints the mean wall time of one small-task cycle: provision a sandbox, put a small tree,
exec ``true``, get the tree back, release. 50 cycles each with and without bubblewrap.

    .venv/bin/python bench/sandbox_overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from alebuild.sandbox.base import SandboxSpec
from alebuild.sandbox.local import LocalProvider, bwrap_available

ROOT = "/media/user/data/agenthle/bench/task/base"
N = 50


def _small_tree(root: Path) -> None:
    (root / "input" / "data").mkdir(parents=True)
    for i in range(10):
        (root / "input" / "data" / f"f{i}.csv").write_text("a,b\n" * 100)
    (root / "input" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "input" / "run.sh").chmod(0o755)


async def _cycle(provider: LocalProvider, src: Path, out: Path) -> float:
    t0 = time.perf_counter()
    async with provider.sandbox(SandboxSpec(build_id="bench")) as sbx:
        await sbx.put_tree(src, ROOT)
        res = await sbx.exec(["true"])
        assert res.returncode == 0, res.stderr
        await sbx.get_tree(ROOT, out)
    return time.perf_counter() - t0


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        _small_tree(src)
        modes = [False] + ([True] if bwrap_available() else [])
        for use_bwrap in modes:
            provider = LocalProvider(Path(tmp) / "sandboxes", use_bwrap=use_bwrap)
            await _cycle(provider, src, Path(tmp) / "warm")  # imports, bwrap probe
            times = [await _cycle(provider, src, Path(tmp) / f"out{i}") for i in range(N)]
            label = "bwrap" if use_bwrap else "none "
            print(
                f"{label}: mean {statistics.mean(times) * 1000:6.2f} ms  "
                f"median {statistics.median(times) * 1000:6.2f} ms  "
                f"max {max(times) * 1000:6.2f} ms  over {N} sandboxes"
            )
        if not bwrap_available():
            print("bwrap: unavailable on this host", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
