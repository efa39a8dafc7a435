"""The Python API behind the CLI: open a workspace, build, plan, explain, query, cache ops.

The CLI only parses options and renders what these return; tests and other programs call
the same functions.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alebuild.cache.action_cache import ActionCache
from alebuild.cache.cas import LocalCAS
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
from alebuild.core.workspace import WorkspaceConfig, find_root, load_workspace_config
from alebuild.exec.events import EventBus
from alebuild.exec.keys import InputHasher, diff_keyfiles, key_of, make_keyfile
from alebuild.exec.progress import Progress
from alebuild.exec.scheduler import BuildOptions, BuildResult, PlanEntry, Scheduler

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
        roots, graph = self.graph(patterns)
        build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        log_path = self.cache_dir / "builds" / f"{build_id}.jsonl"
        events = EventBus(log_path, build_id)
        self.services["build_id"] = build_id
        self.services["events"] = events
        sched = self._scheduler(graph, options or BuildOptions(), events)
        events.emit("build_started", roots=[str(r) for r in roots], targets=len(graph.targets))
        display = Progress(len(graph.targets), live=progress) if progress is not False else None
        if display is not None:
            events.subscribe(display)
        for listener in listeners or []:
            events.subscribe(listener)
        result = BuildResult(build_id, roots, sched.states, sched.services["counters"], log_path)
        try:
            if display is not None:
                with display:
                    await sched.run()
            else:
                await sched.run()
        finally:
            self.statcache.save()
            summary = result.summary()
            # Counts, not label lists: the summary JSON has those, and a no-op build of
            # 15,000 targets should not write a megabyte line.
            events.emit(
                "build_finished",
                executed=len(summary["executed"]),
                cached=len(summary["cached"]),
                failed=summary["failed"],
                sandboxes_provisioned=summary["sandboxes_provisioned"],
                images_built=summary["images_built"],
            )
            events.close()
            if summary_json is not None:
                _write_json_atomic(summary_json, summary)
        return result

    def build(self, patterns: list[str], options: BuildOptions | None = None, **kw: Any) -> BuildResult:
        return run_cancellable(self.build_async(patterns, options, **kw))

    def present(self, result: BuildResult, stream: Any) -> None:
        """Let each built root's rule render itself (scoreboards, out/ files)."""
        for label in result.roots:
            state = result.states.get(label)
            if state is not None and state.outputs:
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
