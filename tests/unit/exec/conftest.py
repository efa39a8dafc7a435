"""A BuildRunner-style harness: an in-memory workspace from BUILD.toml strings, built with
the real engine in-process, returning the DESIGN section 6 summary."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from alebuild.api import Workspace
from alebuild.exec.scheduler import BuildOptions


class BuildRunner:
    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache

    def write(self, rel: str, text: str, mode: int | None = None) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        if mode is not None:
            path.chmod(mode)
        return path

    def workspace(self) -> Workspace:
        return Workspace(self.root, cache_dir=self.cache)

    def build(self, *labels: str, **opts) -> dict:
        ws = self.workspace()
        try:
            result = ws.build(list(labels), BuildOptions(backoff_s=0, **opts), progress=False)
            summary = result.summary()
            summary["exit_code"] = result.exit_code
            summary["states"] = result.states
            summary["replayed"] = result.replayed
            return summary
        finally:
            ws.close()

    def plan(self, *labels: str):
        ws = self.workspace()
        try:
            return {str(e.label): e for e in ws.plan(list(labels))}
        finally:
            ws.close()

    def explain(self, label: str):
        ws = self.workspace()
        try:
            return ws.explain(label)
        finally:
            ws.close()


@pytest.fixture
def runner(tmp_path: Path) -> BuildRunner:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "BUILD.toml").write_text("[workspace]\n")
    return BuildRunner(root, tmp_path / "cache")


def events_of(summary_log: Path) -> list[dict]:
    return [json.loads(line) for line in summary_log.read_text().splitlines()]
