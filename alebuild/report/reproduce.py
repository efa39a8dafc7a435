"""``alebuild reproduce``: re-grade every unit of a published result from its stored artifacts.

For each unit the stored artifact tree is fetched (local cache or remote), restored in a
fresh sandbox, the task's reference staged and ``evaluate()`` run again with the same seed
the original grade used (derived from its grade key). Each score is compared with the
published one. No agent runs; the task and image targets the grades need are built (they
are cheap and usually cache hits).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alebuild.core.errors import ActionFailure, UserError
from alebuild.core.labels import Label
from alebuild.exec.context import EngineContext, SecretRedactor
from alebuild.exec.scheduler import BuildOptions

__all__ = ["UnitCheck", "ReproduceReport", "reproduce"]

TOLERANCE = 1e-9


@dataclass
class UnitCheck:
    unit: dict[str, Any]
    now: float | None
    status: str  # match | MISMATCH | error
    detail: str = ""


@dataclass
class ReproduceReport:
    result_hash: str | None
    checks: list[UnitCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status == "match" for c in self.checks)


async def reproduce(ws: Any, manifest: dict[str, Any], result_hash: str | None,
                    echo: Callable[[str], None] = print) -> ReproduceReport:
    units = manifest["units"]
    needed = sorted({u["task_label"] for u in units} | {u["image"] for u in units if u.get("image")})
    built = await ws.build_async(needed, BuildOptions(backoff_s=0.5), progress=False)
    if not built.ok:
        failed = "; ".join(f"{s.label}: {s.reason}" for s in built.states.values() if not s.settled_ok)
        raise UserError(f"cannot prepare the grading inputs: {failed}")
    states = {str(label): st for label, st in built.states.items()}
    report = ReproduceReport(result_hash)
    build_id = "reproduce-" + time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    for unit in units:
        check = await _check_unit(ws, unit, states, build_id)
        report.checks.append(check)
        label = f"{unit['agent']}/{unit['task']}/r{unit['replica']}"
        if check.status == "match":
            echo(f"match     {label}  {check.now:.4f}")
        elif check.status == "MISMATCH":
            echo(f"MISMATCH  {label}  (stored {unit.get('score')}, now {check.now})")
        else:
            echo(f"error     {label}  {check.detail}")
    return report


async def _check_unit(ws: Any, unit: dict[str, Any], states: dict[str, Any], build_id: str) -> UnitCheck:
    from rules.grade import grade_artifacts

    artifacts = unit.get("artifacts")
    if not artifacts:
        return UnitCheck(unit, None, "error", "the unit has no stored artifacts")
    if not ws.cas.has_all(artifacts) and not (ws.tiers is not None and ws.tiers.fetch_blob(artifacts)):
        return UnitCheck(unit, None, "error", f"artifacts {artifacts} are in no store")
    grade_label = Label.parse(unit["grade"])
    target = ws.loader.target(grade_label)
    ctx = EngineContext(
        target=target, root=ws.root, key=unit["grade_key"], build_id=build_id, cas=ws.cas, deps={},
        services=ws.services, statcache=ws.statcache, redactor=SecretRedactor(),
        log_sink=lambda _label, _msg: None, scratch_root=ws.cache_dir / "scratch",
    )
    image = unit.get("image")
    try:
        now = await grade_artifacts(
            ctx,
            task_label=Label.parse(unit["task_label"]),
            task_outputs=states[unit["task_label"]].outputs,
            artifacts=artifacts,
            sandbox=Label.parse(unit["sandbox"]),
            image=states[image].outputs["tree"] if image else None,
            variant=unit["variant"],
        )
    except ActionFailure as exc:
        now = None
        if unit.get("score") is None:
            return UnitCheck(unit, None, "match", "no score then, no score now")
        return UnitCheck(unit, None, "MISMATCH", f"grader failed now: {exc.reason}")
    finally:
        ctx.close()
    stored = unit.get("score")
    if stored is not None and abs(stored - now) <= TOLERANCE:
        return UnitCheck(unit, now, "match")
    return UnitCheck(unit, now, "MISMATCH")


@dataclass
class AgentDelta:
    agent: str
    published: float
    now: float
    ci95: tuple[float, float]
    n: int


def compare_samples(published: list[dict[str, Any]], fresh: list[dict[str, Any]],
                    resamples: int = 2000, seed: int = 0) -> list[AgentDelta]:
    """Per agent: published mean, new mean, and a bootstrap 95% CI of the difference.

    Units without a score count 0, as on the scoreboard. The bootstrap is seeded, so the
    same two manifests always give the same interval.
    """
    import random

    rng = random.Random(seed)
    out = []
    for agent in sorted({u["agent"] for u in published}):
        a = [u["score"] or 0.0 for u in published if u["agent"] == agent]
        b = [u["score"] or 0.0 for u in fresh if u["agent"] == agent]
        if not a or not b:
            continue
        deltas = sorted(
            sum(rng.choice(b) for _ in b) / len(b) - sum(rng.choice(a) for _ in a) / len(a)
            for _ in range(resamples)
        )
        lo, hi = deltas[int(0.025 * resamples)], deltas[int(0.975 * resamples) - 1]
        out.append(AgentDelta(agent, sum(a) / len(a), sum(b) / len(b), (lo, hi), len(b)))
    return out
