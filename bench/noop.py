"""Engine overhead on a large synthetic graph, next to doit (a benchmark, not a test).

    .venv/bin/python bench/noop.py --targets 1000 [--jobs 2] [--skip-doit] [--skip-hash]
                                   [--hash-gib 0.25] [--profile DIR] [--keep]

Generates ``--targets`` trivial genrules (``cat in > out``) over ~N/10 packages in a temp
dir (see ``bench/_synth.py``) and prints, each measured end to end unless said otherwise:

- interpreter start and ``import alebuild.api`` (one fresh process each, median of 3);
- load+graph: ``Workspace(root).graph(["//..."])`` in a fresh process, after its imports;
- cold build wall time, and overhead per executed action two ways (formulas printed);
- no-op rebuild (median of 5) and one-input-changed rebuild (median of 3, distinct files);
- hashing throughput on a mixed tree (``--hash-gib``) against a raw ``readinto`` of it;
- the same graph under doit (``dodo.py`` twin), with alebuild/doit ratios, when importable.

``--profile DIR`` also runs one no-op build under cProfile, writes ``DIR/noop.prof`` and
prints the top functions and a phase breakdown.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synth  # noqa: E402  (bench/ is not a package)

BIN = Path(sys.executable).parent


def _alebuild_cmd() -> list[str]:
    script = BIN / "alebuild"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "alebuild.cli"]


def _doit_cmd() -> list[str]:
    script = BIN / "doit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "doit"]


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return wall


class Alebuild:
    """Runs the CLI on the synthetic workspace with its cache outside the workspace."""

    def __init__(self, syn: _synth.Synth, cache: Path, jobs: int) -> None:
        self.syn = syn
        self.cache = cache
        self.jobs = jobs
        self.summary = cache.parent / "summary.json"

    def build(self, extra: list[str] | None = None) -> tuple[float, dict]:
        cmd = [
            *(extra or _alebuild_cmd()),
            "--cache-dir",
            str(self.cache),
            "//...",
            "--no-progress",
            "--summary-json",
            str(self.summary),
            "-j",
            str(self.jobs),
        ]
        wall = _timed(cmd, self.syn.root)
        return wall, json.loads(self.summary.read_text())

    def command_seconds(self, summary: dict) -> float:
        """Sum of ``action_finished.duration_s`` in this build's event log."""
        log = self.cache / "builds" / f"{summary['build_id']}.jsonl"
        total = 0.0
        for line in log.read_text().splitlines():
            ev = json.loads(line)
            if ev.get("event") == "action_finished":
                total += ev.get("duration_s") or 0.0
        return total


def _in_fresh_process(code: str, cwd: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


_LOAD_CODE = """
import json, time
t0 = time.perf_counter()
from pathlib import Path
from alebuild.api import Workspace
t1 = time.perf_counter()
ws = Workspace(Path({root!r}), cache_dir=Path({cache!r}))
roots, g = ws.graph(["//..."])
t2 = time.perf_counter()
ws.close()
print(json.dumps({{"import": t1 - t0, "graph": t2 - t1, "targets": len(g.targets)}}))
"""


def spawn_baseline(syn: _synth.Synth, work: Path, count: int) -> float:
    """Mean seconds of one bare ``/bin/bash -c 'cat in > out'`` (what each action runs)."""
    work.mkdir(parents=True, exist_ok=True)
    src = syn.input_path(1)
    t0 = time.perf_counter()
    for _ in range(count):
        subprocess.run(["/bin/bash", "-c", f"cat {src} > out.txt"], cwd=work, check=True)
    return (time.perf_counter() - t0) / count


def change_indices(n: int) -> list[int]:
    """Three distinct targets whose outputs nothing reads (i % 10 != 9): one action re-runs."""
    out = []
    for frac in (0.25, 0.5, 0.75):
        i = min(n - 1, int(n * frac) + 3)
        while i % 10 == 9 or i in out:
            i = (i + 1) % n
        out.append(i)
    return out


def bench_alebuild(
    syn: _synth.Synth, tmp: Path, jobs: int, fig: dict, profile: Path | None
) -> None:
    ab = Alebuild(syn, tmp / "cache", jobs)
    fig["interpreter start"] = statistics.median(
        _timed([sys.executable, "-c", "pass"], tmp) for _ in range(3)
    )
    imp = [
        _in_fresh_process(_LOAD_CODE.format(root=str(syn.root), cache=str(tmp / "cache-load")), tmp)
        for _ in range(3)
    ]
    fig["import alebuild.api"] = statistics.median(r["import"] for r in imp)
    fig["load+graph"] = statistics.median(r["graph"] for r in imp)
    assert imp[0]["targets"] == syn.n, imp[0]

    wall, summary = ab.build()
    assert len(summary["executed"]) == syn.n and not summary["failed"], summary["failed"][:3]
    fig["cold build"] = wall
    fig["_cmd_sum"] = ab.command_seconds(summary)

    noops = []
    for _ in range(5):
        wall, summary = ab.build()
        assert not summary["executed"], summary["executed"][:3]
        noops.append(wall)
    fig["no-op"] = statistics.median(noops)

    changes = []
    for k, i in enumerate(change_indices(syn.n)):
        _synth.change_input(syn, i, f" alebuild change {k}")
        wall, summary = ab.build()
        assert len(summary["executed"]) == 1, summary["executed"]
        changes.append(wall)
    fig["one input changed"] = statistics.median(changes)

    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        prof = profile / "noop.prof"
        ab.build([sys.executable, "-m", "cProfile", "-o", str(prof), *_alebuild_cmd()])
        fig["_profile"] = prof


def bench_doit(syn: _synth.Synth, tmp: Path, jobs: int, fig: dict) -> None:
    doit_dir = tmp / "doit"
    _synth.make_dodo(syn, doit_dir)
    # Thread workers: at 1,000 tasks within noise of doit's default process pool (cold 3.4 vs
    # 3.1 s, no-op 0.28 vs 0.34 s on the 2-core box), and nothing needs pickling.
    cmd = [*_doit_cmd(), "run", "-n", str(jobs), "-P", "thread"]
    fig["cold build"] = _timed(cmd, doit_dir)
    outs = list((doit_dir / "out").rglob("*.out"))
    assert len(outs) == syn.n, len(outs)
    fig["no-op"] = statistics.median(_timed(cmd, doit_dir) for _ in range(5))
    changes = []
    for k, i in enumerate(change_indices(syn.n)):
        _synth.change_input(syn, i, f" doit change {k}")
        changes.append(_timed(cmd, doit_dir))
    fig["one input changed"] = statistics.median(changes)


def _read_all(paths: list[str]) -> int:
    buf = bytearray(1 << 20)  # the same chunk size the hasher uses
    view = memoryview(buf)
    total = 0
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(view):
                total += n
    return total


def _best_of_3(fn) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _hash_figures(root: Path) -> dict:
    from alebuild.cache.statcache import StatCache
    from alebuild.cache.tree import hash_tree

    paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
    size = sum(os.path.getsize(p) for p in paths)
    read_s = _best_of_3(lambda: _read_all(paths))
    cold_s = _best_of_3(lambda: hash_tree(root, "xxh128", statcache=None))
    sc = StatCache(None)
    hash_tree(root, "xxh128", statcache=sc)
    assert len(sc) == len(paths), (len(sc), len(paths))  # the racy window refused nothing
    warm_s = _best_of_3(lambda: hash_tree(root, "xxh128", statcache=sc))
    return {
        "files": len(paths),
        "mb": size / 1e6,
        "raw read": read_s,
        "hash cold": cold_s,
        "hash warm": warm_s,
    }


def bench_hash(tmp: Path, gib: float) -> dict[str, dict]:
    """Figures for the whole mixed tree, then for each size class on its own."""
    root = tmp / "hashtree"
    _synth.make_hash_tree(root, int(gib * (1 << 30)))
    out = {"all": _hash_figures(root)}
    for name in ("small", "medium", "large"):
        out[name] = _hash_figures(root / name)
    return out


def report(
    n: int, jobs: int, ale: dict, doit: dict | None, spawn_s: float, hashing: dict | None
) -> None:
    print(f"\n== alebuild bench/noop.py: {n} targets, {n // 10} packages, -j {jobs} ==")
    cmd_sum = ale["_cmd_sum"]
    ev_over = (ale["cold build"] - cmd_sum / jobs) / n
    sp_over = (ale["cold build"] - n * spawn_s / jobs) / n
    print("overhead/action (event log) = (cold wall - sum(action_finished.duration_s) / jobs) / N")
    print(
        f"    = ({ale['cold build']:.3f} - {cmd_sum:.3f} / {jobs}) / {n}; duration_s spans the"
        " rule's run(): staging srcs, the command, storing outputs"
    )
    print(
        "overhead/action (vs spawn)  = (cold wall - N * bare `bash -c cat` time / jobs) / N;"
        f" bare spawn = {spawn_s * 1000:.2f} ms"
    )
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, a: float | None, d: float | None, unit: str = "s") -> None:
        scale, fmt = (1000, "{:9.2f} ms") if unit == "ms" else (1, "{:9.3f} s ")
        av = "-" if a is None else fmt.format(a * scale)
        dv = "-" if d is None else fmt.format(d * scale)
        ratio = "-" if a is None or d is None or d == 0 else f"{a / d:6.2f}x"
        rows.append((name, av, dv, ratio))

    dg = doit or {}
    row("interpreter start (python -c pass)", ale["interpreter start"], None)
    row("import alebuild.api", ale["import alebuild.api"], None)
    row("load+graph (in-process, after imports)", ale["load+graph"], None)
    row("cold build (wall)", ale["cold build"], dg.get("cold build"))
    row("  overhead/action (event log)", ev_over, None, "ms")
    d_sp = None if doit is None else (dg["cold build"] - n * spawn_s / jobs) / n
    row("  overhead/action (vs spawn)", sp_over, d_sp, "ms")
    row("no-op rebuild (median of 5)", ale["no-op"], dg.get("no-op"))
    row("one input changed (median of 3)", ale["one input changed"], dg.get("one input changed"))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{w}}  {'alebuild':>12}  {'doit':>12}  {'ale/doit':>8}")
    for name, a, d, r in rows:
        print(f"{name:<{w}}  {a:>12}  {d:>12}  {r:>8}")
    if doit is None:
        print("(doit: skipped or not importable)")
    if hashing:
        print(
            "\nhashing (best of 3; all files in the page cache, so 'cold' = no stat cache,"
            " not cold disk; 'warm' = a filled StatCache)"
        )
        print(f"  {'tree':<22} {'raw read':>16} {'hash cold':>16} {'hash warm':>16}")
        for name, h in hashing.items():
            tree = f"{name} {h['files']}f {h['mb']:.0f}MB"
            cells = [f"{h['mb'] / h[k]:8.0f} MB/s" for k in ("raw read", "hash cold", "hash warm")]
            print(f"  {tree:<22} " + " ".join(f"{c:>16}" for c in cells))
        small = hashing.get("small")
        if small:
            per = {
                k: small[k] / small["files"] * 1e6 for k in ("raw read", "hash cold", "hash warm")
            }
            print(
                "  small files, per file: " + ", ".join(f"{k} {v:.1f} us" for k, v in per.items())
            )


_PHASES = [
    ("BUILD.toml load + resolve //...", "loader.py", "resolve"),
    ("build_graph", "graph.py", "build_graph"),
    ("Scheduler.run (keys + lookups)", "scheduler.py", "run"),
    ("  make_keyfile", "keys.py", "make_keyfile"),
    ("    genrule inputs() (stat/glob)", "genrule.py", "inputs"),
    ("    hash_file (stat + statcache)", "statcache.py", "hash_file"),
    ("  key_of (canonical json + digest)", "keys.py", "key_of"),
    ("  ActionCache.get (diskcache)", "action_cache.py", "get"),
    ("  events emit (JSONL log)", "events.py", "emit"),
    ("BuildResult.summary", "scheduler.py", "summary"),
    ("summary json write", "api.py", "_write_json_atomic"),
    ("StatCache.save", "statcache.py", "save"),
    ("Workspace.close", "api.py", "close"),
]


def print_profile(prof: Path) -> None:
    stats = pstats.Stats(str(prof))
    total = stats.total_tt
    print(f"\n== cProfile of one no-op build ({prof}), total {total:.3f} s in-process ==")
    cum: dict[tuple[str, str], float] = {}
    for (file, _, func), (_, _, _, ct, _) in stats.stats.items():
        for _, suffix, name in _PHASES:
            if func == name and file.endswith(suffix):
                cum[(suffix, name)] = cum.get((suffix, name), 0.0) + ct
    for label, suffix, name in _PHASES:
        v = cum.get((suffix, name))
        print(f"  {label:<36} {'-' if v is None else f'{v:7.3f} s'}")
    stats.sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--targets", type=int, default=1000, help="genrules to generate (N)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="-j for both tools")
    p.add_argument("--skip-doit", action="store_true", help="do not run the doit twin")
    p.add_argument("--skip-hash", action="store_true", help="skip the hashing throughput part")
    p.add_argument("--hash-gib", type=float, default=1.0, help="size of the hashed tree, GiB")
    p.add_argument("--profile", type=Path, default=None, help="cProfile one no-op into DIR")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    args = p.parse_args(argv)
    if args.targets < 20:
        p.error("--targets must be at least 20")
    tmp = Path(tempfile.mkdtemp(prefix="alebuild-bench-"))
    try:
        t0 = time.perf_counter()
        syn = _synth.make_workspace(tmp / "ws", args.targets)
        print(
            f"generated {args.targets} targets in {time.perf_counter() - t0:.1f} s", file=sys.stderr
        )
        spawn_s = spawn_baseline(syn, tmp / "spawn", min(args.targets, 200))
        ale: dict = {}
        bench_alebuild(syn, tmp, args.jobs, ale, args.profile)
        doit = None
        if not args.skip_doit and importlib.util.find_spec("doit") is not None:
            doit = {}
            bench_doit(syn, tmp, args.jobs, doit)
        hashing = None if args.skip_hash else bench_hash(tmp, args.hash_gib)
        report(args.targets, args.jobs, ale, doit, spawn_s, hashing)
        if "_profile" in ale:
            print_profile(ale["_profile"])
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
