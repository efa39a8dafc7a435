"""The demo experiment end to end (a benchmark, not a test).

    .venv/bin/python bench/demo.py [--target //experiments:demo] [--cycles 20] [--keep]

Runs ``alebuild <target>`` twice as a subprocess on the real workspace with a fresh
``--cache-dir`` in a temp dir (cold, then no-op), and prints a compact table: wall time,
actions executed / cached, sandboxes provisioned and images built (from
``--summary-json``), plus the summed action time per kind from the cold build's event log.
Then the local provider's overhead per sandbox (provision + stage a small tree + exec
``true`` + collect + release), timed directly as ``bench/sandbox_overhead.py`` does, with
and without bubblewrap. The builds write ``out/<experiment>/`` of the workspace, as any
build does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sandbox_overhead  # noqa: E402  (bench/ is not a package)

from alebuild.sandbox.local import LocalProvider, bwrap_available  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _alebuild_cmd() -> list[str]:
    script = Path(sys.executable).parent / "alebuild"
    return [str(script)] if script.exists() else [sys.executable, "-m", "alebuild.cli"]


def build(target: str, cache: Path, summary: Path) -> tuple[float, dict]:
    """One ``alebuild`` build; (wall seconds, summary JSON). Exits on a failed build."""
    cmd = [*_alebuild_cmd(), "--cache-dir", str(cache), target, "--summary-json", str(summary),
           "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, json.loads(summary.read_text())


def action_times(log: Path) -> dict[str, tuple[int, float]]:
    """kind -> (actions finished, summed duration_s) from a build's event log."""
    out: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "action_finished" and "duration_s" in event:
            out[event["kind"]].append(event["duration_s"])
    return {k: (len(v), sum(v)) for k, v in sorted(out.items())}


async def sandbox_cycles(tmp: Path, cycles: int) -> dict[str, list[float]]:
    """Seconds per provision+stage+exec+collect+release cycle, per isolation mode."""
    src = tmp / "src"
    sandbox_overhead._small_tree(src)
    results = {}
    for use_bwrap in [False] + ([True] if bwrap_available() else []):
        provider = LocalProvider(tmp / "sandboxes", use_bwrap=use_bwrap)
        await sandbox_overhead._cycle(provider, src, tmp / "warm")  # imports, bwrap probe
        results["bwrap" if use_bwrap else "none"] = [
            await sandbox_overhead._cycle(provider, src, tmp / f"out-{use_bwrap}-{i}") for i in range(cycles)
        ]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="//experiments:demo")
    ap.add_argument("--cycles", type=int, default=20, help="sandbox cycles per isolation mode")
    ap.add_argument("--keep", action="store_true", help="keep the temp cache and print its path")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="alebuild-bench-demo-"))
    try:
        cache = tmp / "cache"
        cold_s, cold = build(args.target, cache, tmp / "cold.json")
        noop_s, noop = build(args.target, cache, tmp / "noop.json")
        logs = sorted((cache / "builds").glob("*.jsonl"))
        times = action_times(logs[0]) if logs else {}

        print(f"{args.target}  (bwrap: {'yes' if bwrap_available() else 'no'})")
        print(f"{'build':<8}{'wall s':>8}{'executed':>10}{'cached':>8}{'failed':>8}{'sandboxes':>11}{'images':>8}")
        for name, wall, s in (("cold", cold_s, cold), ("no-op", noop_s, noop)):
            print(f"{name:<8}{wall:>8.2f}{len(s['executed']):>10}{len(s['cached']):>8}{len(s['failed']):>8}"
                  f"{s['sandboxes_provisioned']:>11}{s['images_built']:>8}")
        same = cold["results"] == noop["results"]
        print(f"result hash: {next(iter(cold['results'].values()), '-')}  (no-op same: {same})")

        print(f"\ncold build, action time by kind (from {logs[0].name if logs else '-'})")
        print(f"{'kind':<12}{'actions':>8}{'sum s':>8}{'mean ms':>9}")
        for kind, (n, total) in times.items():
            print(f"{kind:<12}{n:>8}{total:>8.2f}{total / n * 1000:>9.1f}")

        cycles = asyncio.run(sandbox_cycles(tmp / "sbx", args.cycles))
        print(f"\nlocal provider overhead per sandbox (provision + stage + exec true + collect + release),"
              f" {args.cycles} cycles")
        print(f"{'isolation':<10}{'mean ms':>9}{'median ms':>11}{'max ms':>9}")
        for mode, ts in cycles.items():
            print(f"{mode:<10}{statistics.mean(ts) * 1000:>9.2f}{statistics.median(ts) * 1000:>11.2f}"
                  f"{max(ts) * 1000:>9.2f}")
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
