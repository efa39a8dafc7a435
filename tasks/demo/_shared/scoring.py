"""Grade-only helpers shared by the demo tasks' ``evaluate()`` functions.

Tasks import this module *inside* ``evaluate`` so it is part of the grader code, not
of the run-time code: editing it re-grades stored runs without re-running agents.

Contract: reading the agent's output never raises for missing, oversized, symlinked
or undecodable files (the caller scores those 0); reading the reference or a scorer
that misbehaves raises, because that is a grader bug, not an agent failure.

Every demo task's ``reference/`` holds exactly one file, ``answer_key.json``:
``{"task": "<domain>/<task>", "note": ..., "expected": <parsed expected content>}``.
The wrapper is deliberate: no reference file may be byte-identical to a file a correct
agent writes, because agent outputs are published to shared (possibly public) caches and
a blob there whose digest equals a reference blob's would leak the hidden answer.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import shlex
from pathlib import Path
from typing import Any

from tasks.demo._shared.setup import command_result, run

__all__ = [
    "ANSWER_KEY",
    "fraction",
    "jaccard",
    "parse_csv",
    "parse_json",
    "read_answer_key",
    "read_output",
    "read_reference",
    "run_scorer",
]

MAX_OUTPUT_BYTES = 1_000_000
ANSWER_KEY = "answer_key.json"

# Accept a file only if it is a regular file whose real path is exactly where it should be:
# an agent could otherwise plant output/x -> ../reference/x, which resolves once the
# reference is staged for grading.
_SAFE_FILE_CHECK = """
import os, sys
task_dir, out_name, rel, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = os.path.join(task_dir, out_name)
path = os.path.join(out, rel)
ok = (
    os.path.realpath(out) == os.path.join(os.path.realpath(task_dir), out_name)
    and os.path.realpath(path) == os.path.join(os.path.realpath(out), rel)
    and os.path.isfile(path)
    and os.path.getsize(path) <= cap
)
print("ok" if ok else "reject")
"""


async def read_output(session: Any, cfg: Any, rel: str, max_bytes: int = MAX_OUTPUT_BYTES) -> str | None:
    """Text of ``<output_dir>/<rel>``, or ``None`` if missing, unsafe, too big or not UTF-8."""
    args = " ".join(
        shlex.quote(a) for a in (cfg.task_dir, cfg.output_name, rel, str(max_bytes))
    )
    _, out, _ = await run(session, f"python3 -c {shlex.quote(_SAFE_FILE_CHECK)} {args}")
    if out.strip() != "ok":
        return None
    data = await session.read_bytes(posixpath.join(cfg.output_dir, rel))
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return None


async def read_reference(session: Any, cfg: Any, rel: str) -> str:
    """Text of ``<reference_dir>/<rel>``; raises if the reference was not staged."""
    path = posixpath.join(cfg.reference_dir, rel)
    if not await session.file_exists(path):
        raise RuntimeError(f"reference file missing: {path}")
    return await session.read_file(path)


async def read_answer_key(session: Any, cfg: Any) -> Any:
    """The ``expected`` value of ``<reference_dir>/answer_key.json``.

    Raises if the key is missing, malformed or written for another task (``cfg.task_id``).
    """
    doc = json.loads(await read_reference(session, cfg, ANSWER_KEY))
    if not isinstance(doc, dict) or doc.get("task") != cfg.task_id or "expected" not in doc:
        raise RuntimeError(f"reference/{ANSWER_KEY} is not the answer key of {cfg.task_id}")
    return doc["expected"]


def parse_json(text: str | None) -> Any | None:
    """Parsed JSON, or ``None`` for missing or malformed text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_csv(text: str | None, required: list[str]) -> list[dict[str, str]] | None:
    """Rows of a CSV with a header holding every ``required`` column, else ``None``.

    Cell values are stripped; a header is matched case-insensitively.
    """
    if text is None:
        return None
    try:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        header = [h.strip().lower() for h in next(reader, [])]
        if not set(required) <= set(header):
            return None
        return [
            {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
            for row in reader
            if any(cell.strip() for cell in row)
        ]
    except csv.Error:
        return None


def fraction(passed: int | float, total: int | float) -> float:
    """``passed / total`` clamped to [0, 1]; 0 when there is nothing to pass."""
    if total <= 0:
        return 0.0
    return max(0.0, min(1.0, float(passed) / float(total)))


def jaccard(got: Any, expected: Any) -> float:
    """Jaccard similarity of two collections of strings (1.0 when both are empty)."""
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
        return 0.0
    a, b = {x.strip() for x in got}, set(expected)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


async def run_scorer(session: Any, cfg: Any, script: Path) -> dict[str, Any]:
    """Run a task's ``scripts/<name>.py`` scorer inside the sandbox; return its JSON.

    The scorer is written into ``<task_dir>/grader/`` (the agent is gone by now) and run as
    ``python3 <script> --input .. --output .. --reference ..``; it must print one JSON
    object with a ``score`` in [0, 1]. Anything else raises: it is a grader bug.
    """
    grader_dir = posixpath.join(cfg.task_dir, "grader")
    target = posixpath.join(grader_dir, script.name)
    await run(session, f"rm -rf {shlex.quote(grader_dir)} && mkdir -p {shlex.quote(grader_dir)}")
    await session.write_file(target, script.read_text(encoding="utf-8"))
    cmd = " ".join(
        shlex.quote(a)
        for a in ("python3", target, "--input", cfg.input_dir, "--output", cfg.output_dir,
                  "--reference", cfg.reference_dir)
    )
    code, out, err = command_result(await session.run_command(cmd, check=False))
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if code != 0 or not lines:
        raise RuntimeError(f"scorer {script.name} failed ({code}): {err.strip()[:2000]}")
    result = json.loads(lines[-1])
    score = float(result["score"])
    if not 0.0 <= score <= 1.0:
        raise RuntimeError(f"scorer {script.name} returned score {score} outside [0, 1]")
    return result
