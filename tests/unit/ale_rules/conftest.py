"""Fixtures: one cold build of the small experiment, copied (workspace and cache) per test.

``small_ws`` hands each test a private copy of the cold-built workspace *and* its cache, so
a test starts from "everything cached" without paying for a build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ale_harness import DemoWorkspace


@pytest.fixture(scope="session")
def small_cold(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoWorkspace, dict[str, Any]]:
    """The small experiment built once from a clean cache; do not mutate it (use small_ws)."""
    ws = DemoWorkspace.create(tmp_path_factory.mktemp("small-cold"))
    summary = ws.build()
    assert summary["exit_code"] == 0, summary["failed"]
    return ws, summary


@pytest.fixture
def small_ws(small_cold: tuple[DemoWorkspace, dict[str, Any]], tmp_path: Path) -> DemoWorkspace:
    """A private copy of the cold-built small workspace and its (warm) cache."""
    return small_cold[0].clone(tmp_path)


@pytest.fixture(params=["auto", "none"])
def isolation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the local provider's own choice, then forced to plain subprocesses
    (its fallback when bubblewrap is absent). In-process builds only."""
    if request.param == "none":
        from alebuild.sandbox import local

        monkeypatch.setattr(local, "bwrap_available", lambda: False)
    return request.param
