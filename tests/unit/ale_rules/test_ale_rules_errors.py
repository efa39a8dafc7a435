"""Acceptance: bad input. A grader that raises is a loud, uncached grader_error that does
not stop the other units; a task list naming a missing task is a user error with file:line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ale_harness import EXP, DemoWorkspace, task_target, unit

BROKEN = "demo/broken_grader"


def _add_broken_task(ws: DemoWorkspace) -> None:
    """A copy of log_triage whose evaluate() raises."""
    src, dst = ws.root / "tasks/demo/log_triage", ws.root / "tasks/demo/broken_grader"
    shutil.copytree(src, dst, symlinks=True)
    ws.edit("tasks/demo/broken_grader/task_card.json", '"demo/log_triage"', '"demo/broken_grader"')
    ws.edit("tasks/demo/broken_grader/main.py", 'TASK_NAME = "log_triage"', 'TASK_NAME = "broken_grader"')
    ws.edit("tasks/demo/broken_grader/main.py",
            "async def evaluate(task_cfg, session) -> list[float]:\n",
            "async def evaluate(task_cfg, session) -> list[float]:\n"
            "    raise ValueError('grader bug: weights do not sum to 1')\n")


def _cli_build(ws: DemoWorkspace, summary_path: Path):
    proc = ws.cli(EXP, "--summary-json", str(summary_path), "--no-progress")
    return proc, json.loads(summary_path.read_text())


def test_grader_error_is_reported_not_cached(tmp_path: Path) -> None:
    ws = DemoWorkspace.create(tmp_path / "w", tasks=["demo/log_triage", BROKEN], agents=("careful",))
    _add_broken_task(ws)
    broken_grade = unit("careful", BROKEN, "grade")
    proc, summary = _cli_build(ws, tmp_path / "s1.json")

    assert proc.returncode == 1, proc.stderr
    failed = {f["label"]: f for f in summary["failed"]}
    assert failed[broken_grade]["outcome"] == "grader_error"
    assert "grader bug" in failed[broken_grade]["reason"]
    # The experiment aggregates anyway, and is itself not a cacheable result.
    assert failed[EXP]["outcome"] == "grader_error"
    assert set(failed) == {broken_grade, EXP}
    # careful has no solver for the copy: its run is a legitimate agent_failed, still graded.
    assert {unit("careful", BROKEN, "run"), unit("careful", "demo/log_triage", "run"),
            unit("careful", "demo/log_triage", "grade"), broken_grade, EXP} <= set(summary["executed"])
    assert "grader_error: " + broken_grade in proc.stderr
    # The scoreboard is printed and written, the error counted, the good unit scored.
    assert f"scoreboard {EXP}" in proc.stdout
    board = json.loads((ws.root / "out/small/scoreboard.json").read_text())
    row = next(r for r in board["rows"] if r["agent"] == "careful" and r["tier"] == "all")
    assert row["runs"] == 2 and row["errors"] == 1 and row["failures"] == 1
    assert row["mean"] == 0.5  # log_triage 1.0; the unscored unit counts 0
    manifest = json.loads((ws.root / "out/small/manifest.json").read_text())
    scores = {u["task"]: u["score"] for u in manifest["units"]}
    assert scores == {"demo/log_triage": 1.0, BROKEN: None}

    # Nothing of the failure was cached: a rebuild runs the grade (and only what needs it).
    proc2, again = _cli_build(ws, tmp_path / "s2.json")
    assert proc2.returncode == 1
    assert set(again["executed"]) == {broken_grade, EXP}
    assert {f["label"] for f in again["failed"]} == {broken_grade, EXP}
    assert task_target(BROKEN) in again["cached"]


def test_missing_task_in_selected_list_names_file_and_line(tmp_path: Path) -> None:
    ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage", "demo/no_such_task"])
    # line 1 is a comment, line 2 log_triage, line 3 the missing task
    proc = ws.cli(EXP, "--no-progress")

    assert proc.returncode == 2
    assert "tasks/selected/small.txt:3" in proc.stderr
    assert "demo/no_such_task" in proc.stderr
    assert not (ws.cache / "cas").exists() or not any((ws.cache / "cas").iterdir())
