"""A harness for acceptance tests of the ALE rules: a copy of the real workspace with a
small experiment, built with the real engine and the local sandbox provider.

``DemoWorkspace`` copies the workspace pieces an experiment needs (root BUILD.toml, tasks/,
configs/, images/, experiments/; never cache/ or out/) into a temp folder, replaces
experiments/BUILD.toml by a small experiment, and builds in-process (``build``) or through
the CLI (``cli``). The fixtures in conftest.py build on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from alebuild.api import Workspace
from alebuild.exec.scheduler import BuildOptions

REPO = Path(__file__).resolve().parents[3]
PIECES = ("BUILD.toml", "tasks", "configs", "images", "experiments")

# The small suite: three quick near-term tasks, one of which (log_triage) grades on the host
# with an inline evaluate(), one (diff_summary) whose input we edit.
SMALL_TASKS = ["demo/log_triage", "demo/diff_summary", "demo/secret_handoff"]
EXP = "//experiments:small"


def experiment_toml(
    name: str = "small",
    agents: tuple[str, ...] = ("careful", "sloppy"),
    suite: str = "//tasks/selected:small",
    repeats: int = 1,
    wall_time_s: int | None = 60,
    prompt_suffix: str = "",
) -> str:
    lines = [
        "[[experiment]]",
        f'name = "{name}"',
        "agents = [" + ", ".join(f'"//configs/agents:{a}"' for a in agents) + "]",
        f'tasks = "{suite}"',
        'environment = "//configs/environments:local"',
        f"repeats = {repeats}",
        f"prompt_suffix = {json.dumps(prompt_suffix)}",
    ]
    if wall_time_s is not None:
        lines.append(f"wall_time_s = {wall_time_s}")
    return "\n".join(lines) + "\n"


def suite_toml(name: str, file: str) -> str:
    return f'\n[[task_suite]]\nname = "{name}"\nfile = "{file}"\n'


class DemoWorkspace:
    """A workspace copy at ``root`` with its own cache at ``cache``."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache

    # -- setup ---------------------------------------------------------------------------
    @classmethod
    def create(cls, base: Path, tasks: list[str] = SMALL_TASKS, **exp: Any) -> DemoWorkspace:
        root = base / "ws"
        root.mkdir(parents=True)
        for piece in PIECES:
            src = REPO / piece
            if src.is_dir():
                shutil.copytree(src, root / piece, symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, root / piece)
        ws = cls(root, base / "cache")
        ws.write_suite("small", tasks)
        ws.write("experiments/BUILD.toml", experiment_toml(**exp))
        return ws

    def clone(self, base: Path, with_cache: bool = True) -> DemoWorkspace:
        """A copy of this workspace (and its cache) under ``base``: another checkout path."""
        shutil.copytree(self.root, base / "ws", symlinks=True,
                        ignore=shutil.ignore_patterns("out") if not with_cache else None)
        if with_cache and self.cache.exists():
            shutil.copytree(self.cache, base / "cache", symlinks=True)
        return DemoWorkspace(base / "ws", base / "cache")

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def append(self, rel: str, text: str) -> None:
        with (self.root / rel).open("a") as f:
            f.write(text)

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace exactly one occurrence of ``old`` in ``rel`` (fails loudly otherwise)."""
        path = self.root / rel
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        path.write_text(text.replace(old, new))

    def write_suite(self, name: str, tasks: list[str]) -> None:
        self.write(f"tasks/selected/{name}.txt", "# test suite\n" + "".join(t + "\n" for t in tasks))
        build = (self.root / "tasks/selected/BUILD.toml").read_text()
        if f'name = "{name}"' not in build:
            self.append("tasks/selected/BUILD.toml", suite_toml(name, f"{name}.txt"))

    # -- engine --------------------------------------------------------------------------
    def workspace(self) -> Workspace:
        return Workspace(self.root, cache_dir=self.cache)

    def build(self, *labels: str) -> dict[str, Any]:
        """Build in-process; the DESIGN section 6 summary plus exit_code, states, log."""
        ws = self.workspace()
        try:
            result = ws.build(list(labels) or [EXP], BuildOptions(backoff_s=0, jobs=4), progress=False)
            summary = result.summary()
            summary["exit_code"] = result.exit_code
            summary["states"] = result.states
            summary["log"] = result.log_path
            return summary
        finally:
            ws.close()

    def plan(self, *labels: str) -> dict[str, Any]:
        ws = self.workspace()
        try:
            return {str(e.label): e for e in ws.plan(list(labels) or [EXP])}
        finally:
            ws.close()

    def explain(self, label: str) -> Any:
        ws = self.workspace()
        try:
            return ws.explain(label)
        finally:
            ws.close()

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``alebuild --cache-dir <cache> <args>`` in the workspace, as a subprocess."""
        return subprocess.run(
            [sys.executable, "-m", "alebuild.cli", "--cache-dir", str(self.cache), *args],
            cwd=self.root, capture_output=True, text=True, timeout=120,
            env={**os.environ, **(env or {})},
        )


def unit(agent: str, task: str, step: str, replica: int = 0, exp: str = EXP) -> str:
    """Label of a generated run/grade: ``//experiments:small/careful/demo/x/r0/run``."""
    return f"{exp}/{agent}/{task}/r{replica}/{step}"


def units(agents: list[str], tasks: list[str], steps: tuple[str, ...] = ("run", "grade"),
          replicas: tuple[int, ...] = (0,), exp: str = EXP) -> set[str]:
    return {unit(a, t, s, r, exp) for a in agents for t in tasks for s in steps for r in replicas}


def task_target(task: str) -> str:
    """``demo/log_triage`` -> ``//tasks/demo/log_triage:log_triage``."""
    return f"//tasks/{task}:{task.rsplit('/', 1)[1]}"


def events(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(summary["log"]).read_text().splitlines()]
