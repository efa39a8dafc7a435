"""Retries of infrastructure failures, resource pools, outcomes that are (not) cached,
and the plain-text progress fallback, with a test kind registered like any plug-in."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from alebuild.api import Workspace
from alebuild.core.errors import InfraError
from alebuild.core.registry import Registry
from alebuild.core.rule import Output, Rule, Spec
from alebuild.exec.progress import Progress
from alebuild.exec.scheduler import BuildOptions


class ProbeSpec(Spec):
    log: str  # a file this action appends to, outside the cache
    fail_times: int = 0  # raise InfraError this many times first
    outcome: str = "ok"
    pool: str = "sandboxes"


class Probe(Rule):
    """Counts attempts and concurrent holders of its pool in a shared dict."""

    kind = "probe"
    Spec = ProbeSpec
    live: dict[str, int] = {"now": 0, "max": 0}
    barrier_parties = 1  # the tests set how many actions must be inside at once
    barriers: dict[int, asyncio.Barrier] = {}

    def resources(self, target):
        return {target.spec.pool: 1}

    async def run(self, target, ctx) -> Output:
        log = Path(target.spec.log)
        attempts = log.read_text().count("x") if log.exists() else 0
        with log.open("a") as f:
            f.write("x")
        if attempts < target.spec.fail_times:
            raise InfraError(f"quota exceeded (attempt {attempts + 1})")
        ctx.services["counters"]["sandboxes_provisioned"] += 1
        self.live["now"] += 1
        self.live["max"] = max(self.live["max"], self.live["now"])
        # Wait until `barrier_parties` actions are inside together: passes only if the pools
        # let that many in (else the timeout fails the action rather than hanging the test).
        barrier = self.barriers.setdefault(id(asyncio.get_running_loop()), asyncio.Barrier(self.barrier_parties))
        async with asyncio.timeout(20):
            await barrier.wait()
        self.live["now"] -= 1
        return Output(outcome=target.spec.outcome, value={"attempts": attempts + 1})


def _workspace(root: Path, cache: Path) -> Workspace:
    registry = Registry.default()
    if not registry.has("probe"):
        registry.register("probe", Probe)
    return Workspace(root, cache_dir=cache, registry=registry)


def _build(root, cache, labels, **opts):
    ws = _workspace(root, cache)
    try:
        return ws.build(labels, BuildOptions(backoff_s=0, **opts), progress=False)
    finally:
        ws.close()


def _probes(tmp_path: Path, n: int, **fields) -> Path:
    root = tmp_path / "ws"
    (root / "p").mkdir(parents=True)
    (root / "BUILD.toml").write_text("[workspace]\n")
    body = ""
    for i in range(n):
        extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
        body += f'[[probe]]\nname = "t{i}"\nlog = "{tmp_path}/log{i}"\n{extra}\n'
    (root / "p" / "BUILD.toml").write_text(body)
    return root


def test_infra_failures_are_retried_then_cached(tmp_path):
    root = _probes(tmp_path, 1, fail_times=2)
    result = _build(root, tmp_path / "c", ["//p:t0"], attempts=3)
    state = next(iter(result.states.values()))
    assert (state.outcome, state.value["attempts"], state.meta["attempts"]) == ("ok", 3, 3)
    events = [json.loads(line)["event"] for line in result.log_path.read_text().splitlines()]
    assert events.count("action_retry") == 2


def test_infra_failure_after_all_attempts_is_reported_and_not_cached(tmp_path):
    root = _probes(tmp_path, 1, fail_times=5)
    result = _build(root, tmp_path / "c", ["//p:t0"], attempts=2)
    assert result.exit_code == 1
    assert result.summary()["failed"] == [
        {"label": "//p:t0", "outcome": "infra_failed", "reason": "quota exceeded (attempt 2)"}
    ]
    again = _build(root, tmp_path / "c", ["//p:t0"], attempts=1)
    assert again.summary()["executed"] == ["//p:t0"]  # never cached: tried again


def test_agent_failed_is_a_cached_result_and_grader_error_is_not(tmp_path):
    root = _probes(tmp_path, 1, outcome="agent_failed")
    first = _build(root, tmp_path / "c", ["//p:t0"])
    assert first.exit_code == 0 and first.summary()["failed"] == []
    assert _build(root, tmp_path / "c", ["//p:t0"]).summary()["cached"] == ["//p:t0"]
    root = _probes(tmp_path / "g", 1, outcome="grader_error")
    assert _build(root, tmp_path / "c2", ["//p:t0"]).exit_code == 1
    assert _build(root, tmp_path / "c2", ["//p:t0"]).summary()["executed"] == ["//p:t0"]


def test_resource_pool_bounds_concurrency(tmp_path):
    root = _probes(tmp_path, 6)
    Probe.live.update(now=0, max=0)
    Probe.barrier_parties, Probe.barriers = 2, {}
    result = _build(root, tmp_path / "c", ["//p:all"], jobs=8, resources={"sandboxes": 2})
    assert result.ok and Probe.live["max"] == 2  # two at a time, never a third
    root = _probes(tmp_path / "wide", 6)
    Probe.live.update(now=0, max=0)
    Probe.barrier_parties, Probe.barriers = 6, {}
    result = _build(root, tmp_path / "c2", ["//p:all"], jobs=8, resources={"sandboxes": 6})
    assert result.ok and Probe.live["max"] == 6  # the bound above was the pool's
    Probe.barrier_parties, Probe.barriers = 1, {}


def test_progress_without_a_tty_prints_plain_lines():
    out = io.StringIO()
    with Progress(3, stream=out) as progress:
        progress({"event": "action_started", "label": "//p:a", "reasons": ["new"]})
        progress({"event": "action_finished", "label": "//p:a", "outcome": "ok", "duration_s": 0.5})
        progress({"event": "action_cached", "label": "//p:b"})
        progress({"event": "action_finished", "label": "//p:c", "outcome": "failed", "reason": "exit 3"})
    lines = out.getvalue().splitlines()
    assert lines == ["run     //p:a  (new)", "ok      //p:a 0.50s", "failed  //p:c: exit 3"]
    assert (progress.done, progress.cached, progress.failed) == (3, 1, 1)


def test_counters_are_per_build_on_one_workspace(tmp_path):
    root = _probes(tmp_path, 2)
    ws = _workspace(root, tmp_path / "c")
    try:
        first = ws.build(["//p:all"], BuildOptions(backoff_s=0), progress=False)
        second = ws.build(["//p:all"], BuildOptions(backoff_s=0), progress=False)
    finally:
        ws.close()
    assert first.summary()["sandboxes_provisioned"] == 2
    assert second.summary()["sandboxes_provisioned"] == 0  # all cached: nothing new
