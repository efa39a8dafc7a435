"""``experiment``: agents x tasks x replicas, expanded at load time like a macro.

For every agent, task in the suite and replica ``i`` it generates
``<name>/<agent>/<domain>/<task>/r<i>/run`` (agent_run) and ``.../grade`` (grade), plus one
``<name>/sandbox/<snapshot>`` template per snapshot tag the tasks use. The experiment's own
action gathers every grade into a result manifest (every unit with its keys, artifact
digest, score and outcome) whose digest is the published result hash, and a scoreboard
(agent x tier: mean, 95% CI, runs, failures).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from alebuild.ale.taskcard import load_task_card
from alebuild.cache.digest import canonical_json, digest_bytes
from alebuild.core.errors import UserError
from alebuild.core.labels import Label
from alebuild.core.rule import LabelRef, Output, Rule, Spec
from rules.task_suite import suite_refs, task_label

__all__ = ["Experiment", "ExperimentSpec", "render_scoreboard", "MANIFEST_SCHEMA"]

MANIFEST_SCHEMA = "alebuild-result/1"


class ExperimentSpec(Spec):
    agents: list[LabelRef]
    tasks: LabelRef
    environment: LabelRef
    repeats: int = 1
    wall_time_s: int | None = None
    prompt_suffix: str = ""
    tiers: dict[str, LabelRef] = {}


def _units(target, ctx) -> list[dict[str, Any]]:
    """(agent, task ref, replica) units with their generated names, in a stable order."""
    spec: ExperimentSpec = target.spec
    if spec.repeats < 1:
        raise UserError("repeats must be >= 1", file=target.file, line=target.line, field=f"{target.label} repeats")
    refs = suite_refs(ctx.target(spec.tasks), ctx.root)
    units = []
    for agent in spec.agents:
        ctx.target(agent)  # a missing agent fails here, naming this experiment
        for ref in refs:
            for variant in ref.variants:
                for i in range(spec.repeats):
                    vpart = f"/v{variant}" if variant else ""
                    base = f"{target.label.name}/{agent.name}/{ref.task}{vpart}/r{i}"
                    units.append({"agent": agent, "task": ref.task, "variant": variant, "replica": i,
                                  "run": base + "/run", "grade": base + "/grade"})
    return units


class Experiment(Rule):
    kind = "experiment"
    Spec = ExperimentSpec
    version = 3
    tolerates_failed_deps = True

    def deps(self, target, ctx) -> list[Label]:
        pkg = target.label.package
        out = set()
        for u in _units(target, ctx):
            out.add(Label(pkg, u["run"]))
            out.add(Label(pkg, u["grade"]))
        return sorted(out)

    def dep_outputs(self, target, dep: Label) -> tuple[str, ...] | None:
        # The manifest cites every unit's run and grade key, so a new key (even one that
        # early cutoff gave identical bytes) is a new result.
        return ("@key", "@digest")

    def expand(self, target, ctx) -> list[dict[str, Any]]:
        spec: ExperimentSpec = target.spec
        env = ctx.target(spec.environment).spec
        tasks_root = ctx.target(spec.tasks).spec.tasks_root
        generated: list[dict[str, Any]] = []
        templates: dict[str, str] = {}
        for u in _units(target, ctx):
            card = load_task_card(ctx.root / tasks_root / u["task"] / "task_card.json")
            tag = card.vm.snapshot
            snap = env.snapshots.get(tag)
            if snap is None:
                raise UserError(
                    f"task {u['task']} needs snapshot {tag!r}, which {spec.environment} does not define "
                    f"(it has: {', '.join(sorted(env.snapshots))})",
                    file=target.file, line=target.line, field=f"{target.label} environment",
                )
            if tag not in templates:
                templates[tag] = f"{target.label.name}/sandbox/{tag}"
                machine = dict(snap.machine)
                generated.append({"kind": "sandbox", "name": templates[tag], "provider": snap.provider,
                                  "image": str(snap.image) if snap.image else None, "machine": machine,
                                  "network": snap.network, "cleanup": env.cleanup})
            common = {"task": str(task_label(tasks_root, u["task"])), "sandbox": ":" + templates[tag],
                      "image": str(snap.image) if snap.image else None, "variant": u["variant"],
                      "experiment": str(target.label)}
            generated.append({"kind": "agent_run", "name": u["run"], "agent": str(u["agent"]),
                              "replica": u["replica"], "prompt_suffix": spec.prompt_suffix,
                              "wall_time_s": spec.wall_time_s, **common})
            generated.append({"kind": "grade", "name": u["grade"], "run": ":" + u["run"], **common})
        return generated

    def inputs(self, target, ctx) -> dict[str, Any]:
        tiers = {}
        for tier, label in sorted(target.spec.tiers.items()):
            tiers[tier] = sorted(r.task for r in suite_refs(ctx.target(label), ctx.root))
        units = [{k: (str(v) if isinstance(v, Label) else v) for k, v in u.items()} for u in _units(target, ctx)]
        return {"tier_tasks": tiers, "units": units}

    async def run(self, target, ctx) -> Output:
        pkg = target.label.package
        keyfile_inputs = self.inputs(target, ctx.services["loader"])
        tiers = keyfile_inputs["tier_tasks"]
        units = []
        loader = ctx.services["loader"]
        for u in keyfile_inputs["units"]:
            run = ctx.dep(Label(pkg, u["run"]))
            grade = ctx.dep(Label(pkg, u["grade"]))
            gspec = loader.target(Label(pkg, u["grade"])).spec
            units.append({
                "task_label": str(gspec.task), "sandbox": str(gspec.sandbox),
                "image": str(gspec.image) if gspec.image else None,
                "agent": Label.parse(u["agent"]).name, "task": u["task"], "variant": u["variant"],
                "replica": u["replica"], "run": f"//{pkg}:{u['run']}", "grade": f"//{pkg}:{u['grade']}",
                "run_key": run.key, "grade_key": grade.key,
                "artifacts": run.outputs.get("artifacts"),
                "run_status": run.value.get("status", run.outcome),
                "outcome": grade.outcome if grade.outcome != "ok" else run.outcome,
                "score": grade.value.get("score") if grade.outcome == "ok" else None,
            })
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "experiment": str(target.label),
            "tiers": tiers,
            "units": units,
        }
        manifest_bytes = canonical_json(manifest)
        result_hash = digest_bytes(manifest_bytes, ctx.services["workspace_config"].digest_function)
        board = scoreboard(units, tiers)
        board["result_hash"] = result_hash
        outputs = {
            "manifest": ctx.store_bytes(manifest_bytes),
            "scoreboard": ctx.store_bytes(canonical_json(board)),
        }
        failed = [u for u in units if u["score"] is None]
        # A unit without a score (grader error, infra failure) must be retried next build, so
        # the experiment is not a cacheable result until every unit has one.
        outcome = "ok" if not failed else "grader_error"
        reason = None if not failed else f"{len(failed)} unit(s) have no score"
        return Output(outcome=outcome, outputs=outputs, value={"result_hash": result_hash}, reason=reason)

    def present(self, target, result, services, stream) -> None:
        if "scoreboard" not in result.outputs:
            return
        cas = services["cas"]
        board = json.loads(cas.read_bytes(result.outputs["scoreboard"]))
        out_dir = Path(services["out_dir"]) / target.label.name
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "scoreboard.json").write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
        manifest = json.loads(cas.read_bytes(result.outputs["manifest"]))
        (out_dir / "manifest.json").write_bytes(cas.read_bytes(result.outputs["manifest"]))
        write_run_records(out_dir / "runs", target, manifest, services)
        print(render_scoreboard(board, str(target.label)), file=stream or sys.stdout)


def write_run_records(base: Path, target, manifest: dict[str, Any], services: dict[str, Any]) -> None:
    """ALE's per-unit records: ``<agent>/<domain>/<task>/r<i>/{run.json, eval_result.json,
    transcript.txt}``, from the stored results (timings are provenance, not keyed)."""
    ac, cas, loader = services["action_cache"], services["cas"], services["loader"]
    agents = {label.name: loader.target(label).spec for label in target.spec.agents}
    for u in manifest["units"]:
        folder = base / u["agent"] / u["task"] / (f"v{u['variant']}" if u["variant"] else "") / f"r{u['replica']}"
        folder.mkdir(parents=True, exist_ok=True)
        run = ac.get(u["run_key"]) if u.get("run_key") else None
        grade = ac.get(u["grade_key"]) if u.get("grade_key") else None
        spec = agents.get(u["agent"])
        run_meta = run.meta if run else {}
        status = {"ok": "completed", "agent_failed": "failed"}.get(run.outcome if run else "", "not_executed")
        if run is not None and run.value.get("status") == "timeout":
            status = "timeout"
        record = {
            "agent": {
                "id": u["agent"], "name": spec.display_name or u["agent"] if spec else u["agent"],
                "harness": spec.harness if spec else None, "version": spec.version if spec else None,
                "model": spec.model if spec else None, "executor": "sandbox",
                "config": dict(spec.config) if spec else {},
            },
            "task": {"path": u["task"], "variant": u["variant"]},
            "replica": u["replica"],
            "status": status,
            "score": u["score"],
            "termination_reason": run.meta.get("reason") if run else None,
            "duration_s": run_meta.get("duration_s"),
            "usage": {k: run_meta[k] for k in ("sandbox_seconds", "agent_seconds") if k in run_meta},
            "run_key": u["run_key"], "artifacts": u["artifacts"],
        }
        (folder / "run.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        evaluation = {
            "eval_status": "success" if u["score"] is not None else "error",
            "score": u["score"],
            "eval_duration_s": grade.meta.get("duration_s") if grade else None,
            "error": None if u["score"] is not None else u["outcome"],
        }
        (folder / "eval_result.json").write_text(json.dumps(evaluation, indent=2, sort_keys=True) + "\n")
        if run is not None and "transcript" in run.outputs and cas.has(run.outputs["transcript"]):
            (folder / "transcript.txt").write_bytes(cas.read_bytes(run.outputs["transcript"]))


def _stats(scores: list[float]) -> dict[str, Any]:
    n = len(scores)
    if n == 0:
        return {"mean": None, "ci95": None}
    mean = sum(scores) / n
    if n < 2:
        return {"mean": round(mean, 6), "ci95": None}
    var = sum((s - mean) ** 2 for s in scores) / (n - 1)
    half = 1.96 * math.sqrt(var / n)
    return {"mean": round(mean, 6), "ci95": [round(mean - half, 6), round(mean + half, 6)]}


def scoreboard(units: list[dict[str, Any]], tiers: dict[str, list[str]]) -> dict[str, Any]:
    """agent x tier: mean score (failures count 0), 95% CI, runs, failures."""
    tier_sets = {"all": None, **{t: set(ts) for t, ts in tiers.items()}}
    rows = []
    for agent in sorted({u["agent"] for u in units}):
        for tier, members in tier_sets.items():
            mine = [u for u in units if u["agent"] == agent and (members is None or u["task"] in members)]
            if not mine:
                continue
            scores = [u["score"] if u["score"] is not None else 0.0 for u in mine]
            rows.append({
                "agent": agent, "tier": tier, "runs": len(mine),
                "failures": sum(1 for u in mine if u["outcome"] != "ok"),
                "errors": sum(1 for u in mine if u["score"] is None),
                **_stats(scores),
            })
    return {"rows": rows}


def render_scoreboard(board: dict[str, Any], title: str) -> str:
    lines = [f"scoreboard {title}", f"{'agent':<14}{'tier':<16}{'mean':>7}  {'95% CI':<17}{'runs':>5}{'fail':>6}{'err':>5}"]
    for r in board["rows"]:
        mean = "-" if r["mean"] is None else f"{r['mean']:.3f}"
        ci = "-" if not r["ci95"] else f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
        lines.append(f"{r['agent']:<14}{r['tier']:<16}{mean:>7}  {ci:<17}{r['runs']:>5}{r['failures']:>6}{r['errors']:>5}")
    lines.append(f"result hash: {board.get('result_hash')}")
    return "\n".join(lines)
