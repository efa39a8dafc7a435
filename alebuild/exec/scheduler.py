"""The scheduler: key -> cache check -> run on a miss, over the target graph.

Pass one walks the graph in topological order synchronously and settles every action whose
dependencies are settled and whose key is a hit; that makes a no-op build cheap (no task per
target). Pass two runs what is left as asyncio tasks in one TaskGroup: each waits for its
dependencies, recomputes its key from their *output digests* (a dependency rebuilt to the same
bytes makes the dependent a hit: early cutoff), takes a per-key inter-process lock, re-checks
the cache, holds its resource-pool units and runs the rule with a timeout and retries.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from alebuild import __version__
from alebuild.cache.action_cache import ActionCache, ActionRecord
from alebuild.cache.cas import CorruptBlobError, LocalCAS, MissingBlobError
from alebuild.cache.digest import digest_json
from alebuild.core.errors import ActionFailure, InfraError, UserError
from alebuild.core.graph import Graph
from alebuild.core.labels import Label
from alebuild.core.rule import CACHED_OUTCOMES, DepResult, LoadContext, Output
from alebuild.exec.context import EngineContext, SecretRedactor
from alebuild.exec.events import EventBus
from alebuild.exec.keys import InputHasher, key_of, make_keyfile, reasons
from alebuild.exec.pools import Pools
from alebuild.exec.state import (
    ActionState,
    BuildOptions,
    BuildResult,
    PlanEntry,
    output_digest,
    replay_cached,
)

__all__ = ["BuildOptions", "ActionState", "BuildResult", "Scheduler", "PlanEntry", "replay_cached"]

# The build's plain values live in exec.state; re-exported here for callers of the scheduler.

# Recorded with every result, never keyed: which alebuild on what kind of host made it.
PROVENANCE = {
    "alebuild_version": __version__,
    "host": {"os": platform.system(), "arch": platform.machine(), "cpus": os.cpu_count()},
}


class Scheduler:
    def __init__(
        self,
        *,
        loader: LoadContext,
        graph: Graph,
        cas: LocalCAS,
        action_cache: ActionCache,
        hasher: InputHasher,
        algo: str,
        options: BuildOptions,
        events: EventBus,
        services: dict[str, Any],
        scratch_root: Path,
        tiers: Any = None,
    ) -> None:
        self.loader = loader
        self.graph = graph
        self.cas = cas
        self.ac = action_cache
        self.tiers = tiers  # remote tiers: lookup(key) -> ActionRecord|None, publish(record)
        self.hasher = hasher
        self.algo = algo
        self.options = options
        self.events = events
        self.services = services
        self.services.setdefault("counters", Counter())
        self.scratch_root = scratch_root
        self.redactor = SecretRedactor()
        self.services.setdefault("redactor", self.redactor)
        self.states: dict[Label, ActionState] = {}
        self._keyfiles: dict[Label, dict[str, Any]] = {}
        self._private: dict[Label, bool] = {}
        self._hits_to_publish: list[tuple[ActionRecord, bool]] = []

    # -- keys ---------------------------------------------------------------------------
    def _key(self, label: Label) -> tuple[str, dict[str, Any]]:
        target = self.graph.targets[label]
        dep_digests = {d: self.dep_digest(target, d) for d in self.graph.deps[label]}
        keyfile = make_keyfile(target, dep_digests, self.loader, self.hasher)
        if target.kind in self.options.resample_kinds:
            keyfile["resample"] = self.options.resample_salt
        self._keyfiles[label] = keyfile
        return key_of(keyfile, self.algo), keyfile

    def dep_digest(self, target: Any, dep: Label) -> str:
        """What of ``dep``'s settled result enters ``target``'s key (see Rule.dep_outputs).

        Names select outputs; ``@key`` and ``@digest`` select the dependency's action key and
        whole output digest (for a target that records which actions it summarises).
        """
        st = self.states[dep]
        names = target.rule.dep_outputs(target, dep)
        if names is None:
            return st.output_digest or ""
        special = {"@key": st.key, "@digest": st.output_digest}
        return digest_json({n: special[n] if n in special else st.outputs.get(n) for n in names}, self.algo)

    def private(self, label: Label) -> bool:
        """A target is private if it says so or if anything it is built from is private."""
        if not self._private:  # one pass in dependency order (no recursion on deep chains)
            for lbl in self.graph.topo_order():
                own = getattr(self.graph.targets[lbl].spec, "visibility", "public") == "private"
                self._private[lbl] = own or any(self._private[d] for d in self.graph.deps[lbl])
        return self._private[label]

    async def _publish(self, records: list[tuple[ActionRecord, bool]]) -> None:
        if self.tiers is None or not records:
            return
        await asyncio.to_thread(lambda: [self.tiers.publish(r, p) for r, p in records])

    def _resource_state(self, label: Label, key: str) -> ActionState:
        kind = self.graph.targets[label].kind
        return ActionState(label, kind, "resource", "ok", key=key, output_digest=key)

    def _lookup(self, key: str) -> ActionRecord | None:
        if not self.options.use_cache:
            return None
        rec = self.ac.get(key)
        if rec is None and self.tiers is not None:
            rec = self.tiers.lookup(key)
        return rec

    def _reasons(self, label: Label, keyfile: dict[str, Any]) -> list[str]:
        last = self.ac.last_key(str(label))
        old = self.ac.keyfile(last) if last else None
        return reasons(old, keyfile)

    def _cached_state(self, label: Label, rec: ActionRecord) -> ActionState:
        if self.tiers is not None and self.tiers.needs_publish(rec.key, self.private(label)):
            self._hits_to_publish.append((rec, self.private(label)))
        st = ActionState(
            label=label,
            kind=rec.kind,
            status="cached",
            outcome=rec.outcome,
            key=rec.key,
            output_digest=rec.output_digest,
            outputs=rec.outputs,
            value=rec.value,
            meta=rec.meta,
        )
        self.events.cached(str(label), rec.kind, rec.key)
        return st

    # -- plan ---------------------------------------------------------------------------
    def plan(self) -> list[PlanEntry]:
        """What a build would do, with reasons, without running or provisioning anything."""
        out = []
        for label in self.graph.topo_order():
            target = self.graph.targets[label]
            deps = self.graph.deps[label]
            pending = [d for d in deps if self.states[d].status != "cached"]
            if pending and target.rule.resource:
                self.states[label] = ActionState(label, target.kind, "planned", "pending")
                continue
            if pending or not target.rule.cacheable:
                shown = [str(d) for d in pending if not self.graph.targets[d].rule.resource][:3]
                more = len(pending) - len(shown)
                why = [f"dep_pending: {d}" for d in shown] + ([f"+{more} more"] if more > 0 else [])
                why = why or ["not_cacheable"]
                self.states[label] = ActionState(label, target.kind, "planned", "pending")
                out.append(PlanEntry(label, target.kind, "maybe" if pending else "run", why, None))
                continue
            key, keyfile = self._key(label)
            if target.rule.resource:
                self.states[label] = self._resource_state(label, key)
                self.states[label].status = "cached"
                continue
            rec = self._lookup(key)
            if rec is not None and rec.outcome in CACHED_OUTCOMES:
                self.states[label] = ActionState(
                    label, target.kind, "cached", rec.outcome, key, rec.output_digest,
                    rec.outputs, rec.value, rec.meta,
                )
                out.append(PlanEntry(label, target.kind, "cached", [], key))
            else:
                self.states[label] = ActionState(label, target.kind, "planned", "pending", key)
                out.append(PlanEntry(label, target.kind, "run", self._reasons(label, keyfile), key))
        return out

    # -- build --------------------------------------------------------------------------
    async def run(self) -> dict[Label, ActionState]:
        await self.run_pending(self.settle_cached())
        return self.states

    def settle_cached(self) -> list[Label]:
        """Pass one: settle, in dependency order, every action whose key is a hit.

        Returns the labels left to build (pass two). Synchronous and free of side effects
        beyond cache reads, so a fully cached build never enters the event loop's tasks.
        """
        order = self.graph.topo_order()
        pending: list[Label] = []
        for label in order:
            target = self.graph.targets[label]
            deps = self.graph.deps[label]
            if not (target.rule.cacheable or target.rule.resource) or any(
                d not in self.states or not self.states[d].settled_ok for d in deps
            ):
                pending.append(label)
                continue
            try:
                key, _ = self._key(label)
            except Exception:
                pending.append(label)  # reported with full context in pass two
                continue
            if target.rule.resource:
                self.states[label] = self._resource_state(label, key)
                continue
            rec = self._lookup(key)
            if rec is not None and rec.outcome in CACHED_OUTCOMES:
                self.states[label] = self._cached_state(label, rec)
            else:
                pending.append(label)
        return pending

    async def run_pending(self, pending: list[Label]) -> None:
        """Pass two: build what pass one left, then upload hits a remote has not received."""
        if pending:
            pools = Pools({"jobs": max(1, self.options.jobs), **self.options.resources})
            done: dict[Label, asyncio.Event] = {label: asyncio.Event() for label in pending}
            async with asyncio.TaskGroup() as tg:
                for label in pending:
                    tg.create_task(self._node(label, done, pools))
        # Hits that some remote has not received yet (it was down last time): upload now.
        hits, self._hits_to_publish = self._hits_to_publish, []
        await self._publish(hits)

    async def _node(self, label: Label, done: dict[Label, asyncio.Event], pools: Pools) -> None:
        try:
            for dep in self.graph.deps[label]:
                if dep in done:
                    await done[dep].wait()
            self.states[label] = await self._settle(label, pools)
        finally:
            done[label].set()

    async def _settle(self, label: Label, pools: Pools) -> ActionState:
        target = self.graph.targets[label]
        if not target.rule.tolerates_failed_deps:
            bad = [d for d in self.graph.deps[label] if not self.states[d].settled_ok]
            if bad:
                reason = f"dependency {bad[0]} {self.states[bad[0]].outcome}"
                self.events.emit("action_skipped", label=str(label), kind=target.kind, reason=reason)
                return ActionState(label, target.kind, "skipped", "skipped", reason=reason)
        try:
            key, keyfile = self._key(label)
        except Exception as exc:  # a missing source, an unhashable attribute: the user's to fix
            reason = f"cannot compute key: {exc}"
            self.events.emit(
                "action_finished", label=str(label), kind=target.kind, outcome="failed", reason=reason
            )
            return ActionState(label, target.kind, "error", "failed", reason=reason, user_error=True)
        if target.rule.resource:
            return self._resource_state(label, key)
        if target.rule.cacheable:
            rec = self._lookup(key)
            if rec is not None and rec.outcome in CACHED_OUTCOMES:
                return self._cached_state(label, rec)
            lock = self.ac.lock(key)
            await _acquire(lock)
            try:
                rec = self._lookup(key)  # another build may have finished it while we waited
                if rec is not None and rec.outcome in CACHED_OUTCOMES:
                    return self._cached_state(label, rec)
                state = await self._execute(label, key, keyfile, pools)
                if state.meta.get("bad_blob") and await self._rebuild_broken_deps(label, pools):
                    state = await self._execute(label, key, keyfile, pools)
                return state
            finally:
                lock.__exit__(None, None, None)
        return await self._execute(label, key, keyfile, pools)

    async def _execute(self, label: Label, key: str, keyfile: dict, pools: Pools) -> ActionState:
        target = self.graph.targets[label]
        rule = target.rule
        why = self._reasons(label, keyfile)
        deps = {d: self.states[d].as_dep() for d in self.graph.deps[label]}
        timeout = rule.timeout(target)
        attempts = max(1, self.options.attempts)
        started_at = time.time()
        out = Output(outcome="failed", reason="not run")
        async with pools.hold({"jobs": 1, **rule.resources(target)}):
            for attempt in range(1, attempts + 1):
                self.events.emit(
                    "action_started", label=str(label), kind=target.kind, key=key,
                    reasons=why, attempt=attempt,
                )
                t0 = time.monotonic()
                out = await self._run_once(label, key, deps, timeout)
                duration = time.monotonic() - t0
                if out.outcome == "infra_failed" and attempt < attempts and not out.meta.get("bad_blob"):
                    self.events.emit(
                        "action_retry", label=str(label), attempt=attempt + 1, reason=out.reason
                    )
                    await asyncio.sleep(self.options.backoff_s * (2 ** (attempt - 1)))
                    continue
                break
        meta = {
            **dict(out.meta),
            **PROVENANCE,
            "started_at": started_at,
            "ended_at": time.time(),
            "duration_s": round(duration, 6),
            "attempts": attempt,
            **({"reason": out.reason} if out.reason else {}),
        }
        digest = output_digest(out.outcome, out.outputs, out.value, self.algo)
        state = ActionState(
            label=label, kind=target.kind, status="executed", outcome=out.outcome, key=key,
            output_digest=digest, outputs=dict(out.outputs), value=dict(out.value), meta=meta,
            reasons=why, reason=out.reason, user_error=bool(out.meta.get("user_error")),
        )
        if out.outcome in CACHED_OUTCOMES and rule.cacheable:
            record = ActionRecord(
                key=key, label=str(label), kind=target.kind, outcome=out.outcome,
                outputs=dict(out.outputs), value=dict(out.value), meta=meta, keyfile=keyfile,
                output_digest=digest, created_at=time.time(),
            )
            self.ac.put(record)
            await self._publish([(record, self.private(label))])
        self.events.emit(
            "action_finished", label=str(label), kind=target.kind, key=key, outcome=out.outcome,
            duration_s=round(duration, 6), reason=out.reason,
        )
        return state

    async def _rebuild_broken_deps(self, label: Label, pools: Pools) -> bool:
        """A dependency's stored output was corrupt (evicted on read) or gone: rebuild it.

        Returns True when every such dependency was rebuilt, so the caller can retry once.
        """
        broken = [
            d for d in self.graph.deps[label]
            if self.states[d].status in ("cached", "executed")
            and not all(self.cas.has_all(v) for v in self.states[d].outputs.values())
        ]
        for dep in broken:
            self.events.emit("warning", label=str(dep), message="stored output corrupt or missing; rebuilding")
            key = self.states[dep].key
            self.states[dep] = await self._execute(dep, key, self._keyfiles.get(dep) or self._key(dep)[1], pools)
        return bool(broken) and all(self.states[d].settled_ok for d in broken)

    async def _run_once(
        self, label: Label, key: str, deps: dict[Label, DepResult], timeout: float | None
    ) -> Output:
        target = self.graph.targets[label]
        ctx = EngineContext(
            target=target, root=self.loader.root, key=key, build_id=self.events.build_id,
            cas=self.cas, deps=deps, services=self.services, statcache=self.hasher.statcache,
            redactor=self.redactor, scratch_root=self.scratch_root,
            log_sink=lambda lbl, msg: self.events.emit("log", label=lbl, message=msg),
        )
        try:
            async with asyncio.timeout(timeout):
                out = await target.rule.run(target, ctx)
            if not isinstance(out, Output):
                raise TypeError(f"rule {target.kind} returned {type(out).__name__}, not Output")
            return out
        except InfraError as exc:
            return Output(outcome="infra_failed", reason=self.redactor.scrub(str(exc)))
        except ActionFailure as exc:
            return Output(outcome=exc.outcome, reason=self.redactor.scrub(exc.reason))
        except UserError as exc:
            return Output(outcome="failed", reason=str(exc), meta={"user_error": True})
        except TimeoutError:
            return Output(outcome="failed", reason=f"timed out after {timeout:g}s")
        except (CorruptBlobError, MissingBlobError) as exc:
            digest = getattr(exc, "digest", None)
            return Output(outcome="infra_failed", reason=f"stored blob unusable: {exc}",
                          meta={"bad_blob": digest or True})
        except Exception as exc:  # a bug in a rule or a failing command: report, never cache
            tb = self.redactor.scrub(traceback.format_exc(limit=8))
            self.events.emit("log", label=str(label), message=tb)
            return Output(outcome="failed", reason=self.redactor.scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            ctx.close()


async def _acquire(lock: Any) -> None:
    """Take an inter-process lock in a thread; if cancelled while waiting, release it later."""
    fut = asyncio.ensure_future(asyncio.to_thread(lock.__enter__))
    try:
        await asyncio.shield(fut)
    except asyncio.CancelledError:
        def _release(f: asyncio.Future) -> None:
            if not f.cancelled() and f.exception() is None:
                lock.__exit__(None, None, None)

        fut.add_done_callback(_release)
        raise


def default_jobs() -> int:
    return max(4, 2 * (os.cpu_count() or 2))
