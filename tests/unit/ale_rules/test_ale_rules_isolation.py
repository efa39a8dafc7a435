"""Acceptance: agents cannot reach the reference, wall time ends an agent (a result, not a
failure), and secret values reach the agent but nothing stored.

Valid with and without bubblewrap: the local provider falls back to plain subprocesses,
and these properties come from the rules (reference staged only for grading, in a fresh
sandbox; links collected as links; kill_all before collection), not from namespaces.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from ale_harness import EXP, REPO, DemoWorkspace, unit

from alebuild.core.labels import Label

ADV_TASKS = ["demo/log_triage", "demo/secret_handoff", "demo/config_migration"]
SECRET_NAME = "ALEBUILD_TEST_SECRET"


def _state(summary: dict, label: str):
    return summary["states"][Label.parse(label)]


def _reference_blobs(tasks: list[str]) -> list[bytes]:
    out = []
    for task in tasks:
        for path in sorted((REPO / "tasks" / task / "reference").rglob("*")):
            if path.is_file():
                out.append(path.read_bytes())
    return out


def test_careful_agent_solves_in_either_isolation(tmp_path: Path, isolation: str) -> None:
    ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage"], agents=("careful",))
    summary = ws.build()

    run = _state(summary, unit("careful", "demo/log_triage", "run"))
    assert (run.outcome, run.reason) == ("ok", None)
    if isolation == "none":
        assert run.meta["isolation"] == "none"  # said in the run record
    assert _state(summary, unit("careful", "demo/log_triage", "grade")).value["score"] == 1.0


def test_adversarial_agent_never_gets_the_reference(tmp_path: Path, isolation: str) -> None:
    ws = DemoWorkspace.create(tmp_path, tasks=ADV_TASKS, agents=("adversarial",))
    summary = ws.build()

    assert summary["exit_code"] == 0, summary["failed"]
    references = [b for b in _reference_blobs(ADV_TASKS) if len(b) >= 16]
    assert references, "the demo tasks ship reference files"
    workspace = ws.workspace()
    try:
        for task in ADV_TASKS:
            run = _state(summary, unit("adversarial", task, "run"))
            grade = _state(summary, unit("adversarial", task, "grade"))
            assert (run.outcome, run.reason) == ("ok", None)  # it ran to completion, solving nothing
            assert grade.outcome == "ok" and grade.value["score"] == 0.0, task

            tree = tmp_path / "artifacts" / task
            workspace.cas.materialize(run.outputs["artifacts"], tree)
            passwd = tree / "output" / "passwd"
            assert os.path.islink(passwd), "links are collected as links"
            assert os.readlink(passwd) == "/etc/passwd"
            assert not (tree / "reference").exists()
            # Its daemon found no reference to copy while the agent's sandbox existed.
            assert not (tree / "output" / "stolen").exists()
            assert not (tree / "output" / "adversary.log").exists()
            for path in (tree / "output").rglob("*"):
                if path.is_file() and not path.is_symlink():
                    data = path.read_bytes()
                    assert not any(ref in data for ref in references), path
    finally:
        workspace.close()
    scores = {str(lbl): st.value.get("score") for lbl, st in summary["states"].items() if st.kind == "grade"}
    assert set(scores.values()) == {0.0}


def test_wall_time_ends_agent_and_grade_still_runs(tmp_path: Path, isolation: str) -> None:
    ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage"], agents=("sleeper",), wall_time_s=2)
    summary = ws.build()
    run_label = unit("sleeper", "demo/log_triage", "run")
    grade_label = unit("sleeper", "demo/log_triage", "grade")

    assert summary["exit_code"] == 0  # agent_failed is a result, not a build failure
    assert summary["failed"] == []
    run = _state(summary, run_label)
    assert run.outcome == "agent_failed"
    assert "wall time" in run.reason
    assert run.value["status"] == "timeout"
    grade = _state(summary, grade_label)
    assert grade.outcome == "ok"
    assert 0.0 <= grade.value["score"] < 1.0
    assert {run_label, grade_label, EXP} <= set(summary["executed"])
    # The partial work is kept and graded.
    workspace = ws.workspace()
    try:
        workspace.cas.materialize(run.outputs["artifacts"], tmp_path / "art")
    finally:
        workspace.close()
    assert (tmp_path / "art" / "output" / "partial.txt").read_text().startswith("work in progress")
    # A timed-out sample is cached like any result: the rebuild does not wait 2 s again.
    again = ws.build()
    assert again["executed"] == [] and run_label in again["cached"]
    # ALE's per-unit records say so too (written when the CLI presents the result).
    assert ws.cli(EXP, "--no-progress").returncode == 0
    records = ws.root / "out" / "small" / "runs" / "sleeper" / "demo" / "log_triage" / "r0"
    run_json = json.loads((records / "run.json").read_text())
    assert run_json["status"] == "timeout" and "wall time" in run_json["termination_reason"]
    assert run_json["agent"]["harness"] == "script" and run_json["task"]["path"] == "demo/log_triage"
    evaluation = json.loads((records / "eval_result.json").read_text())
    assert evaluation["eval_status"] == "success" and evaluation["score"] == grade.value["score"]


LEAKY = f'''\
import os, sys
value = os.environ.get("{SECRET_NAME}", "")
print("leaky: the secret is", value)
print("leaky: again", value, file=sys.stderr)
sys.exit(0 if value else 3)
'''


def _leaky_workspace(tmp_path: Path) -> DemoWorkspace:
    ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage"], agents=("leaky",))
    ws.write("configs/agents/scripts/leaky.py", LEAKY)
    ws.append("configs/agents/BUILD.toml", f'''
[[agent]]
name = "leaky"
harness = "script"
script = "scripts/leaky.py"
version = "1.0.0"
env = ["{SECRET_NAME}"]
''')
    return ws


def test_secret_value_is_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "s3cr3t-" + secrets.token_hex(16)
    monkeypatch.setenv(SECRET_NAME, value)
    ws = _leaky_workspace(tmp_path)
    summary_path = tmp_path / "summary.json"
    proc = ws.cli(EXP, "--summary-json", str(summary_path), "--no-progress")

    assert proc.returncode == 0, proc.stderr
    run_label = unit("leaky", "demo/log_triage", "run")
    workspace = ws.workspace()
    try:
        record = workspace.action_cache.get(workspace.action_cache.last_key(run_label))
        assert record is not None and record.outcome == "ok"  # it did see the secret (exit 0)
        transcript = workspace.cas.read_bytes(record.outputs["transcript"]).decode()
        assert "leaky: the secret is ***" in transcript  # redacted, not dropped
        keyfile = workspace.action_cache.keyfile(workspace.action_cache.last_key("//configs/agents:leaky"))
        assert keyfile["inputs"]["attrs"]["env"] == [SECRET_NAME]  # the name is keyed
    finally:
        workspace.close()
    needle = value.encode()
    scanned = 0
    for folder in (ws.cache, ws.root / "out", tmp_path):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                scanned += 1
                assert needle not in path.read_bytes(), path
    assert scanned > 50
    assert value not in proc.stdout and value not in proc.stderr


def test_missing_secret_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_NAME, raising=False)
    ws = _leaky_workspace(tmp_path)
    proc = ws.cli(EXP, "--no-progress")

    assert proc.returncode == 2  # the user's to fix, not an infrastructure failure
    assert f"secret {SECRET_NAME} is not set" in proc.stderr
    assert unit("leaky", "demo/log_triage", "run") in proc.stderr


def test_run_and_grade_record_provenance(tmp_path: Path) -> None:
    """Recorded, never keyed: who built it, where, on what, for how long."""
    ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage"], agents=("careful",))
    summary = ws.build()
    for kind in ("run", "grade"):
        meta = _state(summary, unit("careful", "demo/log_triage", kind)).meta
        assert meta["provider"] == "local" and meta["machine"] == {"machineType": "local"}
        assert meta["isolation"] in ("bwrap", "none") and meta["sandbox_seconds"] > 0
        assert meta["alebuild_version"] and meta["host"]["cpus"] >= 1
        assert meta["ended_at"] >= meta["started_at"]


def test_agent_cannot_read_the_host_home(tmp_path: Path) -> None:
    """With bubblewrap, the host user's home (credentials, history) is hidden."""
    from alebuild.sandbox.local import bwrap_available

    if not bwrap_available():
        pytest.skip("bubblewrap is not available: plain subprocess mode hides nothing")
    marker = Path.home() / f".alebuild-test-{secrets.token_hex(4)}"
    marker.write_text("host credentials")
    try:
        ws = DemoWorkspace.create(tmp_path, tasks=["demo/log_triage"], agents=("peek",))
        ws.write("configs/agents/scripts/peek.py", (
            "import os, sys\n"
            f"path = {str(marker)!r}\n"
            "out = os.path.join(os.environ['ALE_TASK_DIR'], 'output', 'peek.txt')\n"
            "open(out, 'w').write(open(path).read() if os.path.exists(path) else 'hidden')\n"
        ))
        ws.append("configs/agents/BUILD.toml",
                  '\n[[agent]]\nname = "peek"\nharness = "script"\nscript = "scripts/peek.py"\n')
        summary = ws.build()
        run = _state(summary, unit("peek", "demo/log_triage", "run"))
        workspace = ws.workspace()
        try:
            workspace.cas.materialize(run.outputs["artifacts"], tmp_path / "art")
        finally:
            workspace.close()
        assert (tmp_path / "art" / "output" / "peek.txt").read_text() == "hidden"
    finally:
        marker.unlink()
