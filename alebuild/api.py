"""The Python API behind the CLI: open a workspace, build, plan, explain, query, cache ops.

The CLI only parses options and renders what these return; tests and other programs call
the same functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alebuild.cache.action_cache import ActionCache
from alebuild.cache.cas import LocalCAS
from alebuild.cache.digest import digest_json
from alebuild.cache.gc import gc as gc_blobs
from alebuild.cache.gc import reachable, select_victims
from alebuild.cache.remote import open_store
from alebuild.cache.statcache import StatCache
from alebuild.cache.tiers import RemoteTiers
from alebuild.core.graph import Graph, build_graph
from alebuild.core.labels import Label
from alebuild.core.loader import Loader
from alebuild.core.parsecache import ParseCache
from alebuild.core.registry import Registry
from alebuild.core.rule import Rule
from alebuild.core.workspace import WorkspaceConfig, find_root, load_workspace_config
from alebuild.exec.events import EventBus
from alebuild.exec.keys import InputHasher, diff_keyfiles, key_of, make_keyfile
from alebuild.exec.progress import Progress
from alebuild.exec.scheduler import BuildOptions, BuildResult, PlanEntry, Scheduler, replay_cached
from alebuild.exec.snapshot import Recorder, Snapshot, code_signature, fastpath_enabled

__all__ = ["Workspace", "ExplainResult"]


@dataclass
class ExplainResult:
    label: Label
    last_key: str | None
    current_key: str | None
    diffs: list[tuple[str, Any, Any]]
    pending_deps: list[Label]
    cached: bool


class Workspace:
    """One workspace (the folder holding the root BUILD.toml) and its local cache."""

    def __init__(
        self,
        root: Path,
        *,
        cache_dir: Path | None = None,
        registry: Registry | None = None,
        config: WorkspaceConfig | None = None,
        remotes: list[str] | None = None,
        no_remote: bool = False,
    ) -> None:
        self.root = root.resolve()
        self.config = config or load_workspace_config(self.root)
        env_dir = os.environ.get("ALEBUILD_CACHE_DIR")
        chosen = cache_dir or (Path(env_dir) if env_dir else self.root / self.config.cache_dir)
        self.cache_dir = chosen.resolve()
        self.out_dir = self.root / self.config.out_dir
        self.algo = self.config.digest_function
        self.registry = registry or Registry.default()
        self.parse_cache = ParseCache(self.cache_dir / "parse.cache")
        self.loader = Loader(self.root, self.registry, self.config, self.parse_cache)
        self.cas = LocalCAS(self.cache_dir / "cas", self.algo)
        self.action_cache = ActionCache(self.cache_dir / "ac", self.cas)
        self.statcache = StatCache(self.cache_dir / "stat.cache")
        self.services: dict[str, Any] = {
            "cache_dir": self.cache_dir,
            "out_dir": self.out_dir,
            "workspace_config": self.config,
            "cas": self.cas,
            "action_cache": self.action_cache,
            "loader": self.loader,
        }
        self.tiers = self._open_remotes(remotes or [], no_remote)
        self.services["tiers"] = self.tiers

    def _open_remotes(self, extra: list[str], no_remote: bool) -> RemoteTiers | None:
        """Remotes from ``[[workspace.remote]]`` plus ``--remote-cache`` URLs (read+write)."""
        if no_remote:
            return None
        configs = [(r.url, r.visibility, r.read, r.write) for r in self.config.remote]
        configs += [(url, "public", True, True) for url in extra]
        if not configs:
            return None
        stores = [(open_store(url, visibility), read, write) for url, visibility, read, write in configs]
        return RemoteTiers(stores, self.cas, self.action_cache, self._warn)

    def _warn(self, message: str) -> None:
        events = self.services.get("events")
        if events is not None:
            events.emit("warning", label="", message=message)
        else:
            print(f"alebuild: warning: {message}", file=sys.stderr)

    @classmethod
    def open(cls, start: Path | None = None, **kwargs: Any) -> Workspace:
        return cls(find_root((start or Path.cwd()).resolve()), **kwargs)

    def close(self) -> None:
        self.statcache.save()
        self.parse_cache.save()
        self.action_cache.close()

    # -- graph --------------------------------------------------------------------------
    def graph(self, patterns: list[str]) -> tuple[list[Label], Graph]:
        roots = self.loader.resolve(patterns)
        return roots, build_graph(self.loader, roots)

    def _scheduler(self, graph: Graph, options: BuildOptions, events: EventBus) -> Scheduler:
        return Scheduler(
            loader=self.loader,
            graph=graph,
            cas=self.cas,
            action_cache=self.action_cache,
            hasher=InputHasher(self.algo, self.statcache),
            algo=self.algo,
            options=options,
            events=events,
            services=self.services,
            scratch_root=self.cache_dir / "scratch",
            tiers=self.tiers,
        )

    # -- build --------------------------------------------------------------------------
    async def build_async(
        self,
        patterns: list[str],
        options: BuildOptions | None = None,
        *,
        progress: bool | None = None,
        summary_json: Path | None = None,
        listeners: list[Any] | None = None,
    ) -> BuildResult:
        """Build ``patterns``; ``listeners`` receive every event dict as it is emitted."""
        options = options or BuildOptions()
        build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        log_path = self.cache_dir / "builds" / f"{build_id}.jsonl"
        events = EventBus(log_path, build_id)
        self.services["build_id"] = build_id
        self.services["events"] = events
        for listener in listeners or []:
            events.subscribe(listener)
        snapshot = self._snapshot(patterns, options)
        # Per build: a Workspace may build several times (reproduce, --rerun-agents).
        counters = self.services["counters"] = Counter()
        result: BuildResult | None = None
        try:
            replayed = snapshot.replay(events) if snapshot is not None else None
            if replayed is not None:
                roots, states = replayed
                result = BuildResult(build_id, roots, states, counters, log_path, replayed=True)
                return result
            recorder = snapshot.recorder() if snapshot is not None else contextlib.nullcontext()
            with recorder:
                roots, graph = self.graph(patterns)
            sched = self._scheduler(graph, options, events)
            result = BuildResult(build_id, roots, sched.states, sched.services["counters"], log_path)
            events.emit("build_started", roots=[str(r) for r in roots], targets=len(graph.targets))
            display = Progress(len(graph.targets), live=progress) if progress is not False else None
            if display is not None:
                events.subscribe(display)
            with display if display is not None else contextlib.nullcontext():
                with recorder:
                    pending = sched.settle_cached()
                if snapshot is not None:
                    snapshot.record(roots, graph, sched.states, complete=not pending)
                await sched.run_pending(pending)
            return result
        finally:
            self.statcache.save()
            if result is not None:
                self._finish(result, events, summary_json)
            events.close()

    def _finish(self, result: BuildResult, events: EventBus, summary_json: Path | None) -> None:
        summary = result.final = result.summary()
        # Counts, not label lists: the summary JSON has those, and a no-op build of 15,000
        # targets should not write a megabyte line.
        events.emit(
            "build_finished",
            executed=len(summary["executed"]),
            cached=len(summary["cached"]),
            failed=summary["failed"],
            sandboxes_provisioned=summary["sandboxes_provisioned"],
            images_built=summary["images_built"],
        )
        if summary_json is not None:
            _write_json_atomic(summary_json, summary)

    def _snapshot(self, patterns: list[str], options: BuildOptions) -> NoopSnapshot | None:
        """The no-op fast path for these patterns, when it can apply (see exec.snapshot)."""
        if not fastpath_enabled() or self.tiers is not None or not options.use_cache:
            return None
        if options.resample_kinds:
            return None
        return NoopSnapshot(self, patterns)

    def build(self, patterns: list[str], options: BuildOptions | None = None, **kw: Any) -> BuildResult:
        return run_cancellable(self.build_async(patterns, options, **kw))

    def present(self, result: BuildResult, stream: Any) -> None:
        """Let each built root's rule render itself (scoreboards, out/ files)."""
        for label in result.roots:
            state = result.states.get(label)
            if state is None or not state.outputs:
                continue
            if self.registry.rule_class(state.kind).present is Rule.present:
                continue  # nothing to show: do not load its package for nothing
            target = self.loader.target(label)
            target.rule.present(target, state.as_dep(), self.services, stream)

    def plan(self, patterns: list[str]) -> list[PlanEntry]:
        _, graph = self.graph(patterns)
        events = EventBus(None, "plan")
        return self._scheduler(graph, BuildOptions(), events).plan()

    def explain(self, label_text: str) -> ExplainResult:
        label = self.loader.resolve([label_text])[0]
        _, graph = self.graph([str(label)])
        sched = self._scheduler(graph, BuildOptions(), EventBus(None, "explain"))
        sched.plan()
        last = self.action_cache.last_key(str(label))
        old = self.action_cache.keyfile(last) if last else None
        pending = [d for d in graph.deps[label] if sched.states[d].status != "cached"]
        target = graph.targets[label]
        deps = {
            d: sched.dep_digest(target, d) if sched.states[d].output_digest else "<pending>"
            for d in graph.deps[label]
        }
        keyfile = make_keyfile(target, deps, self.loader, sched.hasher)
        current = key_of(keyfile, self.algo) if not pending else None
        diffs = diff_keyfiles(old or {}, keyfile) if old is not None else []
        return ExplainResult(label, last, current, diffs, pending, current == last and last is not None)

    def query(self, expr: str, fmt: str = "text") -> str:
        from alebuild.core import query as q

        labels = q.evaluate(expr, self.loader)
        graph = build_graph(self.loader, labels)
        return q.render(labels, graph, fmt)

    # -- cache maintenance ----------------------------------------------------------------
    def clean(self, everything: bool = False) -> None:
        """Remove outputs and build logs; ``everything`` also drops the local cache."""
        shutil.rmtree(self.out_dir, ignore_errors=True)
        shutil.rmtree(self.cache_dir / "builds", ignore_errors=True)
        shutil.rmtree(self.cache_dir / "scratch", ignore_errors=True)
        if everything:
            self.action_cache.close()
            for child in ("cas", "ac", "stat.cache", "parse.cache"):
                path = self.cache_dir / child
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                elif path.exists():
                    path.unlink()

    def cache_stats(self) -> dict[str, Any]:
        blobs = 0
        size = 0
        for _, n, _ in self.cas.iter_blobs():
            blobs += 1
            size += n
        actions = sum(1 for _ in self.action_cache.iter_records())
        return {"cache_dir": str(self.cache_dir), "blobs": blobs, "bytes": size, "actions": actions}

    def cache_verify(self) -> dict[str, Any]:
        report = self.cas.verify_all()
        return {"checked": report.checked, "bytes": report.bytes, "corrupt": list(report.corrupt)}

    def pinned_digests(self) -> set[str]:
        """Digests reachable from pinned result manifests (GC roots); see ``pin``."""
        pins = self.cache_dir / "pins"
        roots: set[str] = set()
        if pins.is_dir():
            for p in pins.iterdir():
                roots.update(json.loads(p.read_text()).get("digests", []))
        return roots

    def pin(self, result_hash: str, manifest: dict[str, Any]) -> int:
        """Make a result a GC root: its manifest, every unit's artifacts and stored outputs."""
        digests = {result_hash}
        for unit in manifest.get("units", []):
            if unit.get("artifacts"):
                digests.add(unit["artifacts"])
            for key in (unit.get("run_key"), unit.get("grade_key")):
                rec = self.action_cache.get(key) if key else None
                if rec is not None:
                    digests.update(rec.outputs.values())
        pins = self.cache_dir / "pins"
        pins.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(pins / (result_hash.replace(":", "-") + ".json"),
                           {"result": result_hash, "digests": sorted(digests)})
        return len(digests)

    def cache_gc(self, max_size: int | None, max_age_s: float | None = None) -> Any:
        keep = reachable(self.cas, self.pinned_digests())
        return gc_blobs(self.cas, max_size, max_age_s, keep, time.time())

    def remote_gc(self, url: str, max_size: int | None, max_age_s: float | None, apply: bool) -> Any:
        """LRU over a remote store's blobs, keeping what local pins reach; dry run unless ``apply``."""
        store = open_store(url)
        keep = reachable(self.cas, self.pinned_digests())
        report = select_victims(store.list_blobs(), max_size, max_age_s, keep, time.time())
        if apply:
            for digest in report.victims:
                store.delete_blob(digest)
        return report


class NoopSnapshot:
    """Glue between a Workspace build and ``exec.snapshot`` for one set of patterns."""

    def __init__(self, ws: Workspace, patterns: list[str]) -> None:
        self.ws = ws
        name = digest_json({"patterns": list(patterns)}, "xxh128").split(":")[1]
        self.store = Snapshot(ws.cache_dir / "snapshots" / name)
        self._recorder = Recorder(exclude=[ws.cache_dir])
        self.identity = self._identity(patterns)

    def _identity(self, patterns: list[str]) -> dict[str, Any]:
        ws = self.ws
        refs = sorted(ws.registry._refs.items())
        packages = sorted({"alebuild", *(ref.split(".")[0].split(":")[0] for _, ref in refs)})
        modules = [importlib.import_module(p) for p in packages]
        root_build = ws.root / "BUILD.toml"
        st = root_build.stat()
        return {
            "patterns": list(patterns),
            "root": str(ws.root),
            "algo": ws.algo,
            "kinds": ws.registry.kinds(),
            "refs": refs,
            "python": list(sys.version_info[:3]),
            "config": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino],
            "code": code_signature(modules),
        }

    def recorder(self) -> Recorder:
        return self._recorder

    def replay(self, events: EventBus) -> tuple[list[Label], dict[Label, Any]] | None:
        found = self.store.load_if_valid(self.identity)
        if found is None:
            return None
        roots_text, targets = found
        states = replay_cached(targets, self.ws.action_cache)
        if states is None:
            return None
        by_text = {str(label): label for label in states}
        roots = [by_text.get(r) or Label.parse(r) for r in roots_text]
        events.emit("build_started", roots=roots_text, targets=len(states), fastpath=True)
        for st in states.values():
            if st.status == "cached":
                events.cached(str(st.label), st.kind, st.key or "")
        return roots, states

    def record(self, roots: list[Label], graph: Graph, states: dict[Label, Any], complete: bool) -> None:
        if not complete:
            self.store.discard()
            return
        facts = self._recorder.facts()
        if facts is None:
            self.store.discard()
            return
        targets = [
            (str(label), st.kind, st.key or "", st.status == "resource")
            for label, st in ((lbl, states[lbl]) for lbl in graph.topo_order())
        ]
        self.store.write(self.identity, facts, [[str(r) for r in roots], targets])


def _write_json_atomic(path: Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def run_cancellable(coro: Any) -> Any:
    """Run a coroutine; SIGTERM cancels it like Ctrl-C does, so cleanup always runs."""

    async def main() -> Any:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread: the caller owns signals
        try:
            return await coro
        finally:
            try:
                loop.remove_signal_handler(signal.SIGTERM)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    return asyncio.run(main())
