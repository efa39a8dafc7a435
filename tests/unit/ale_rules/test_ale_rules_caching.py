"""Acceptance: reproducible result hashes, no-op rebuilds, and the mutation matrix.

Every mutation test starts from a copy of the cold-built small experiment (careful +
sloppy on log_triage, diff_summary, secret_handoff, one replica) and asserts the *exact*
set of actions that executed. Two ALE facts shape those sets:

- early cutoff: a rebuilt dependency whose outputs are byte-identical does not re-run its
  dependents (a grade keys on the run's artifact tree only, a run on the task's
  run material only);
- secret_handoff's start() draws its token from a seed derived from the run key (replicas
  must differ), so *any* run-key change yields a different artifact tree for that task
  and its grade always re-runs; the other two tasks' artifacts are deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ale_harness import (
    EXP,
    SMALL_TASKS,
    DemoWorkspace,
    events,
    task_target,
    unit,
    units,
)

from alebuild.core.labels import Label

AGENTS = ["careful", "sloppy"]
LOG, DIFF, SECRET = SMALL_TASKS
ALL_UNITS = units(AGENTS, SMALL_TASKS)


def executed(summary: dict) -> set[str]:
    return set(summary["executed"])


def result_hash(summary: dict) -> str:
    return summary["results"][EXP]


# -- 1. reproducibility and no-op ---------------------------------------------------------

def test_two_checkouts_same_hash_and_noop_rebuild(small_cold, tmp_path: Path) -> None:
    ws_a, cold_a = small_cold
    # The same sources (copied from the first checkout, so concurrent edits of the repo
    # cannot differ) at another path, with a clean cache.
    ws_b = ws_a.clone(tmp_path / "elsewhere" / "deeper", with_cache=False)
    assert ws_b.root != ws_a.root and not ws_b.cache.exists()
    cold_b = ws_b.build()

    assert cold_b["exit_code"] == 0, cold_b["failed"]
    # Everything ran in both clean caches, and produced the same published hash and keys.
    expected = ALL_UNITS | {EXP, "//images:tools", "//configs/agents:careful", "//configs/agents:sloppy"}
    expected |= {task_target(t) for t in SMALL_TASKS}
    assert executed(cold_a) == expected and executed(cold_b) == expected
    assert cold_a["results"] == cold_b["results"]
    assert result_hash(cold_b).startswith("xxh128:")
    keys_a = {str(lbl): st.key for lbl, st in cold_a["states"].items()}
    keys_b = {str(lbl): st.key for lbl, st in cold_b["states"].items()}
    assert keys_a == keys_b
    assert cold_b["sandboxes_provisioned"] == len(ALL_UNITS)  # one per run, one per grade
    assert cold_b["images_built"] == 1
    # No keyfile names a host path of either checkout or cache.
    workspace = ws_b.workspace()
    try:
        keyfiles = [json.dumps(rec.keyfile) for rec in workspace.action_cache.iter_records()]
    finally:
        workspace.close()
    assert len(keyfiles) == len(expected)
    for host_path in (ws_a.root, ws_b.root, ws_a.cache, ws_b.cache):
        assert not any(str(host_path) in k for k in keyfiles)

    # A no-op rebuild through the CLI: nothing runs, nothing is provisioned or built.
    summary_path = tmp_path / "noop.json"
    proc = ws_b.cli(EXP, "--summary-json", str(summary_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    noop = json.loads(summary_path.read_text())
    assert noop["executed"] == []
    assert set(noop["cached"]) == expected
    assert noop["failed"] == []
    assert noop["sandboxes_provisioned"] == 0
    assert noop["images_built"] == 0
    assert noop["results"] == cold_b["results"]
    assert f"result hash: {result_hash(cold_b)}" in proc.stdout


# -- 2. the mutation matrix ---------------------------------------------------------------

def _agent_config(ws: DemoWorkspace) -> None:
    ws.edit("configs/agents/BUILD.toml", 'config = { checks = "some" }', 'config = { checks = "most" }')


def _evaluate_weight(ws: DemoWorkspace) -> None:
    # Square the partial credit: careful (1.0) keeps its score, sloppy's drops.
    ws.edit("tasks/demo/log_triage/main.py",
            "return [fraction(right, len(expected))]",
            "return [fraction(right, len(expected)) ** 2]")


def _evaluate_noop(ws: DemoWorkspace) -> None:
    # A new statement: the AST (so the grader code) changes, no score does.
    ws.edit("tasks/demo/log_triage/main.py",
            "    if not isinstance(got, dict):\n",
            "    unused = len(expected)\n    if not isinstance(got, dict):\n")


def _start_extra_file(ws: DemoWorkspace) -> None:
    ws.edit("tasks/demo/log_triage/main.py",
            "    await prepare_output(session, CONFIG.output_dir)\n",
            "    await prepare_output(session, CONFIG.output_dir)\n"
            "    await session.write_file(CONFIG.input_dir + '/README.extra', 'read the log')\n")


def _input_file(ws: DemoWorkspace) -> None:
    ws.append("tasks/demo/diff_summary/input/handbook_v2.md", "\n## Appendix\nA new section.\n")


def _image_recipe(ws: DemoWorkspace) -> None:
    ws.edit("images/tools/recipe.toml", "alebuild tools image", "alebuild tools image, v2")


def _prompt_suffix(ws: DemoWorkspace) -> None:
    ws.edit("experiments/BUILD.toml", 'prompt_suffix = ""', 'prompt_suffix = "Double-check your work."')


def _add_replica(ws: DemoWorkspace) -> None:
    ws.edit("experiments/BUILD.toml", "repeats = 1", "repeats = 2")


# (id, mutation, expected executed labels, does the published hash change)
MATRIX: list[tuple[str, Callable[[DemoWorkspace], None], set[str], bool]] = [
    # sloppy ignores its config, so its log_triage/diff_summary artifacts are identical and
    # those grades are cut off; secret_handoff's token (seeded by the run key) differs, so
    # that one grade re-runs and the experiment re-aggregates. careful: nothing.
    ("agent_config", _agent_config,
     {"//configs/agents:sloppy", EXP} | units(["sloppy"], SMALL_TASKS, ("run",))
     | {unit("sloppy", SECRET, "grade")},
     True),
    # Grader fix: the task re-reads its package, every log_triage grade re-runs, no run does;
    # sloppy's score changes, so the experiment re-aggregates.
    ("evaluate_weight", _evaluate_weight,
     {task_target(LOG), EXP} | units(AGENTS, [LOG], ("grade",)),
     True),
    # start() is run-time code: every agent's log_triage run and grade.
    ("start", _start_extra_file,
     {task_target(LOG), EXP} | units(AGENTS, [LOG]),
     True),
    ("input_file", _input_file,
     {task_target(DIFF), EXP} | units(AGENTS, [DIFF]),
     True),
    # The image is the environment of runs and grades alike: all of them re-run. Only the
    # secret_handoff runs changed their outputs, which is why the experiment re-aggregates.
    ("image_recipe", _image_recipe,
     {"//images:tools", EXP} | ALL_UNITS,
     True),
    # The suffix is in every run key (and the experiment's own); grades are cut off but
    # for secret_handoff (run-key seeded token).
    ("prompt_suffix", _prompt_suffix,
     {EXP} | units(AGENTS, SMALL_TASKS, ("run",)) | units(AGENTS, [SECRET], ("grade",)),
     True),
    ("add_replica", _add_replica,
     {EXP} | units(AGENTS, SMALL_TASKS, replicas=(1,)),
     True),
]


@pytest.mark.parametrize("mutate,expected,hash_changes",
                         [pytest.param(m, e, h, id=i) for i, m, e, h in MATRIX])
def test_mutation_reruns_exactly(small_cold, small_ws: DemoWorkspace, mutate, expected: set[str],
                                 hash_changes: bool) -> None:
    before = small_cold[1]
    mutate(small_ws)
    after = small_ws.build()

    assert after["exit_code"] == 0, after["failed"]
    assert executed(after) == expected
    assert (result_hash(after) != result_hash(before)) is hash_changes
    # Whatever did not execute was a hit (resources appear in neither list).
    assert executed(after).isdisjoint(after["cached"])
    runs_and_grades = [lbl for lbl in expected if lbl.endswith(("/run", "/grade"))]
    assert after["sandboxes_provisioned"] == len(runs_and_grades)
    assert after["images_built"] == (1 if "//images:tools" in expected else 0)
    # Each executed action says why, in the event log.
    started = {e["label"]: e["reasons"] for e in events(after) if e["event"] == "action_started"}
    assert set(started) == expected
    assert all(reasons and "new" not in reasons for lbl, reasons in started.items() if "/r1/" not in lbl)

    again = small_ws.build()
    assert again["executed"] == [] and again["sandboxes_provisioned"] == 0
    assert again["results"] == after["results"]


def test_mutation_reasons_in_plan_explain_and_log(small_ws: DemoWorkspace) -> None:
    _agent_config(small_ws)
    plan = small_ws.plan()
    agent = plan["//configs/agents:sloppy"]
    assert agent.action == "run"
    assert agent.reasons == ["field_changed: agent.config.checks"]
    for label in units(["sloppy"], SMALL_TASKS, ("run",)):
        assert plan[label].action == "maybe"
        assert plan[label].reasons == ["dep_pending: //configs/agents:sloppy"]
    assert all(plan[label].action == "cached" for label in units(["careful"], SMALL_TASKS))

    explained = small_ws.explain("//configs/agents:sloppy")
    assert explained.cached is False
    assert explained.diffs == [("inputs.attrs.config.checks", "some", "most")]
    proc = small_ws.cli("explain", "//configs/agents:sloppy")
    assert proc.returncode == 0, proc.stderr
    assert "inputs.attrs.config.checks" in proc.stdout and '"most"' in proc.stdout

    summary = small_ws.build()
    started = {e["label"]: e["reasons"] for e in events(summary) if e["event"] == "action_started"}
    assert started[unit("sloppy", LOG, "run")] == ["dep_changed: //configs/agents:sloppy"]


def test_prompt_suffix_reason_in_plan(small_ws: DemoWorkspace) -> None:
    _prompt_suffix(small_ws)
    plan = small_ws.plan()
    for label in units(AGENTS, SMALL_TASKS, ("run",)):
        assert plan[label].action == "run"
        assert plan[label].reasons == ["field_changed: agent_run.prompt_suffix"]
    proc = small_ws.cli("plan", EXP)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if unit("careful", LOG, "run") in ln)
    assert line.startswith("run") and "field_changed: agent_run.prompt_suffix" in line


# -- engine bugs found by these tests (see the report) ------------------------------------

def test_explain_reports_cached_run_and_grade_as_up_to_date(small_ws: DemoWorkspace) -> None:
    """explain must key runs and grades like the scheduler does (through dep_outputs)."""
    for label in (unit("sloppy", LOG, "run"), unit("sloppy", LOG, "grade")):
        r = small_ws.explain(label)
        assert r.diffs == [], label
        assert r.cached is True, label


@pytest.mark.parametrize("mutate", [_agent_config, _evaluate_noop], ids=["agent_config", "evaluate_noop"])
def test_manifest_names_the_current_keys(tmp_path: Path, mutate) -> None:
    """The result manifest lists every unit's run and grade key, so those keys must be in the
    experiment's key: a manifest reused after early cutoff must not name stale keys (and
    the published hash must change when an agent config or a grader changes)."""
    ws = DemoWorkspace.create(tmp_path, tasks=[LOG])  # deterministic artifacts: full cutoff
    before = ws.build()
    assert before["exit_code"] == 0
    mutate(ws)
    after = ws.build()
    assert after["exit_code"] == 0
    current = {str(lbl): st.key for lbl, st in after["states"].items()}
    exp = after["states"][Label.parse(EXP)]
    workspace = ws.workspace()
    try:
        manifest = json.loads(workspace.cas.read_bytes(exp.outputs["manifest"]))
    finally:
        workspace.close()
    stale = [(u["run"], u["grade"]) for u in manifest["units"]
             if u["run_key"] != current[u["run"]] or u["grade_key"] != current[u["grade"]]]
    assert stale == []
    assert result_hash(after) != result_hash(before)
