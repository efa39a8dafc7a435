"""``alebuild`` command line: parse options, call ``alebuild.api``, render.

Exit codes: 0 ok, 1 build failure, 2 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

from alebuild.core.errors import UserError

COMMANDS = {"build", "plan", "query", "explain", "clean", "cache", "show", "reproduce", "pin", "sandboxes"}
EXTRA_COMMANDS: dict[str, str] = {}  # name -> "module:function" for commands added by adapters


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alebuild", description="Build agent-evaluation experiments.")
    p.add_argument("--cache-dir", type=Path, help="local cache (default: <workspace>/cache or $ALEBUILD_CACHE_DIR)")
    p.add_argument("-C", "--workspace", type=Path, default=None, help="start looking for the workspace here")
    p.add_argument("--remote-cache", action="append", default=[], metavar="URL",
                   help="a shared cache (gs://bucket/prefix, s3://bucket/prefix, file:///dir); repeatable")
    p.add_argument("--no-remote", action="store_true", help="ignore the remotes of BUILD.toml")
    sub = p.add_subparsers(dest="command")

    def build_opts(sp: argparse.ArgumentParser) -> None:
        # Global options may also follow the labels: `alebuild //x --cache-dir D`.
        sp.add_argument("--cache-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--remote-cache", action="append", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--no-remote", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--summary-json", type=Path, help="write the machine-readable outcome here")
        sp.add_argument("--jobs", "-j", type=int, default=None, help="actions at once")
        sp.add_argument(
            "--resource", action="append", default=[], metavar="NAME=N",
            help="limit a resource pool, e.g. sandboxes=8 (repeatable)",
        )
        sp.add_argument("--attempts", type=int, default=3, help="tries for infra failures")
        sp.add_argument("--backoff", type=float, default=1.0, help="first retry delay, seconds")
        sp.add_argument("--no-progress", action="store_true", help="plain output, no live display")

    b = sub.add_parser("build", help="build targets (the default command)")
    b.add_argument("labels", nargs="+")
    build_opts(b)

    pl = sub.add_parser("plan", help="what would run and why, without running anything")
    pl.add_argument("labels", nargs="+")
    pl.add_argument("--json", action="store_true")

    q = sub.add_parser("query", help="deps(X), rdeps(U, X), kind(K, X)")
    q.add_argument("expr")
    q.add_argument("--output", choices=["text", "json", "dot"], default="text")

    e = sub.add_parser("explain", help="why a target would re-run: keyfile diff")
    e.add_argument("label")

    c = sub.add_parser("clean", help="remove outputs and logs (--all: the local cache too)")
    c.add_argument("--all", action="store_true")

    sh = sub.add_parser("show", help="scoreboard and units of a result hash")
    sh.add_argument("ref", help="a result hash, or a manifest.json file")

    rp = sub.add_parser("reproduce", help="re-grade every unit of a result and compare scores")
    rp.add_argument("ref", help="a result hash, or a manifest.json file (a claim to check)")
    rp.add_argument("--rerun-agents", action="store_true",
                    help="also sample every agent again and compare means (bootstrap 95%% CI)")

    pn = sub.add_parser("pin", help="keep a result reproducible: its blobs survive cache gc")
    pn.add_argument("ref", help="a result hash")

    sbx = sub.add_parser("sandboxes", help="sandboxes left behind by crashed builds")
    ssub = sbx.add_subparsers(dest="sandboxes_command", required=True)
    sg = ssub.add_parser("gc", help="delete leaked sandboxes (never those of a live build)")
    sg.add_argument("--build-id", default=None, help="only sandboxes of builds whose id starts so")

    cache = sub.add_parser("cache", help="local cache maintenance")
    csub = cache.add_subparsers(dest="cache_command", required=True)
    csub.add_parser("stats")
    csub.add_parser("verify")
    g = csub.add_parser("gc")
    g.add_argument("--max-size", default=None, help="e.g. 50G")
    g.add_argument("--max-age", type=float, default=None, help="days")
    g.add_argument("--remote", metavar="URL", help="collect a remote store instead (dry run unless --apply)")
    g.add_argument("--apply", action="store_true", help="with --remote: really delete")
    return p


def _parse_resources(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, sep, n = item.partition("=")
        if not sep or not n.isdigit():
            raise UserError(f"--resource {item!r}: expected NAME=N, e.g. sandboxes=8")
        out[name] = int(n)
    return out


_VALUED = {"--cache-dir", "-C", "--workspace", "--summary-json", "--jobs", "-j", "--resource",
           "--attempts", "--backoff", "--remote-cache"}


def _first_positional(argv: list[str]) -> int | None:
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    # A build allocates many long-lived objects (targets, specs, states) and few cycles;
    # the default collector thresholds spend ~20% of a large no-op build re-scanning them.
    gc.set_threshold(50_000, 20, 100)
    argv = list(sys.argv[1:] if argv is None else argv)
    # Bare labels mean build: `alebuild //experiments:demo`.
    first = _first_positional(argv)
    if first is not None and argv[first] not in COMMANDS and argv[first] not in EXTRA_COMMANDS:
        argv.insert(first, "build")
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"alebuild: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("alebuild: interrupted; completed actions are cached, rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `alebuild ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _workspace(args: argparse.Namespace) -> Any:
    from alebuild.api import Workspace

    return Workspace.open(
        args.workspace, cache_dir=args.cache_dir, remotes=args.remote_cache, no_remote=args.no_remote
    )


def _dispatch(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    try:
        return COMMAND_HANDLERS[args.command](ws, args)
    finally:
        ws.close()


def _cmd_build(ws: Any, args: argparse.Namespace) -> int:
    from alebuild.exec.scheduler import BuildOptions, default_jobs

    options = BuildOptions(
        jobs=args.jobs or default_jobs(),
        resources=_parse_resources(args.resource),
        attempts=args.attempts,
        backoff_s=args.backoff,
    )
    result = ws.build(
        args.labels, options, progress=False if args.no_progress else None,
        summary_json=args.summary_json,
    )
    s = result.summary()
    ws.present(result, sys.stdout)
    print(
        f"alebuild: {len(s['executed'])} executed, {len(s['cached'])} cached, "
        f"{len(s['failed'])} failed  (log: {result.log_path})",
        file=sys.stderr,
    )
    for f in s["failed"]:
        print(f"  {f['outcome']}: {f['label']}: {f['reason']}", file=sys.stderr)
    return result.exit_code


def _cmd_plan(ws: Any, args: argparse.Namespace) -> int:
    entries = ws.plan(args.labels)
    if args.json:
        print(json.dumps([
            {"label": str(e.label), "kind": e.kind, "action": e.action, "reasons": e.reasons, "key": e.key}
            for e in entries
        ], indent=2))
        return 0
    runs = [e for e in entries if e.action != "cached"]
    for e in runs:
        print(f"{e.action:<6} {e.label}  [{e.kind}]  {'; '.join(e.reasons)}")
    print(f"{len(runs)} to run, {len(entries) - len(runs)} cached")
    return 0


def _cmd_query(ws: Any, args: argparse.Namespace) -> int:
    print(ws.query(args.expr, args.output))
    return 0


def _cmd_explain(ws: Any, args: argparse.Namespace) -> int:
    r = ws.explain(args.label)
    if r.last_key is None:
        print(f"{r.label}: never built in this cache (new)")
    elif r.cached:
        print(f"{r.label}: up to date ({r.current_key})")
    else:
        print(f"{r.label}: last built as {r.last_key}")
    if r.pending_deps:
        print("dependencies that would rebuild first: " + ", ".join(map(str, r.pending_deps)))
    for path, old, new in r.diffs:
        print(f"  {path}:\n    - {json.dumps(old)}\n    + {json.dumps(new)}")
    return 0


def _cmd_clean(ws: Any, args: argparse.Namespace) -> int:
    ws.clean(everything=args.all)
    return 0


def _cmd_cache(ws: Any, args: argparse.Namespace) -> int:
    if args.cache_command == "stats":
        print(json.dumps(ws.cache_stats(), indent=2))
    elif args.cache_command == "verify":
        report = ws.cache_verify()
        print(json.dumps(report, indent=2))
        return 1 if report["corrupt"] else 0
    elif args.cache_command == "gc":
        from alebuild.cache.gc import parse_size

        max_size = parse_size(args.max_size) if args.max_size else None
        max_age = args.max_age * 86400 if args.max_age is not None else None
        if args.remote:
            report = ws.remote_gc(args.remote, max_size, max_age, args.apply)
            verb = "removed" if args.apply else "would remove (dry run; --apply to delete)"
        else:
            report = ws.cache_gc(max_size, max_age)
            verb = "removed"
        print(f"{verb}: {report.removed} blobs, {report.freed} bytes; kept {report.kept} bytes")
    return 0


def _cmd_show(ws: Any, args: argparse.Namespace) -> int:
    from alebuild.report.manifest import load_manifest, unit_table
    from rules.experiment import render_scoreboard, scoreboard

    result_hash, manifest = load_manifest(ws, args.ref)
    board = scoreboard(manifest["units"], manifest.get("tiers", {}))
    board["result_hash"] = result_hash or "(unverified manifest file)"
    print(render_scoreboard(board, manifest.get("experiment", "")))
    print()
    print(unit_table(manifest["units"]))
    return 0


def _cmd_reproduce(ws: Any, args: argparse.Namespace) -> int:
    from alebuild.api import run_cancellable
    from alebuild.report.manifest import load_manifest
    from alebuild.report.reproduce import reproduce

    result_hash, manifest = load_manifest(ws, args.ref)
    report = run_cancellable(reproduce(ws, manifest, result_hash))
    if args.rerun_agents:
        _rerun_agents(ws, manifest)
    bad = [c for c in report.checks if c.status != "match"]
    verdict = "REPRODUCED" if report.ok else f"NOT REPRODUCED ({len(bad)} of {len(report.checks)} units differ)"
    print(f"{verdict}: {result_hash or args.ref}")
    return 0 if report.ok else 1


def _rerun_agents(ws: Any, manifest: dict[str, Any]) -> None:
    import secrets as _secrets

    from alebuild.exec.scheduler import BuildOptions, default_jobs
    from alebuild.report.manifest import load_manifest
    from alebuild.report.reproduce import compare_samples

    options = BuildOptions(jobs=default_jobs(), resample_kinds=frozenset({"agent_run"}),
                           resample_salt=_secrets.token_hex(8))
    result = ws.build([manifest["experiment"]], options, progress=False)
    label = result.roots[0]
    fresh_hash = result.states[label].value.get("result_hash")
    if not fresh_hash:
        raise UserError(f"the re-run of {label} produced no result: see {result.log_path}")
    _, fresh = load_manifest(ws, fresh_hash)
    print(f"agents sampled again: new result {fresh_hash}")
    print(f"{'agent':<14}{'published':>10}{'now':>8}{'delta':>8}  95% CI of delta")
    for d in compare_samples(manifest["units"], fresh["units"]):
        print(f"{d.agent:<14}{d.published:>10.3f}{d.now:>8.3f}{d.now - d.published:>+8.3f}"
              f"  [{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}]  (n={d.n})")


def _cmd_sandboxes(ws: Any, args: argparse.Namespace) -> int:
    from alebuild.api import run_cancellable
    from alebuild.sandbox.registry import get_provider_class, known_providers

    base = ws.cache_dir / "sandboxes"
    for name in known_providers():
        provider = get_provider_class(name)(base_dir=base)
        removed = run_cancellable(provider.gc(args.build_id))
        print(f"{name}: removed {len(removed)} leaked sandbox(es)" + "".join(f"\n  {r}" for r in removed))
    return 0


def _cmd_pin(ws: Any, args: argparse.Namespace) -> int:
    from alebuild.report.manifest import load_manifest

    result_hash, manifest = load_manifest(ws, args.ref)
    if result_hash is None:
        raise UserError("pin takes a result hash, not a file")
    n = ws.pin(result_hash, manifest)
    print(f"pinned {result_hash} ({n} blobs kept by cache gc)")
    return 0


COMMAND_HANDLERS = {
    "show": _cmd_show,
    "reproduce": _cmd_reproduce,
    "pin": _cmd_pin,
    "sandboxes": _cmd_sandboxes,
    "build": _cmd_build,
    "plan": _cmd_plan,
    "query": _cmd_query,
    "explain": _cmd_explain,
    "clean": _cmd_clean,
    "cache": _cmd_cache,
}

if __name__ == "__main__":
    raise SystemExit(main())
