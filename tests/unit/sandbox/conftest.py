"""Fixtures for the sandbox conformance suite: every test runs over every local mode."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from alebuild.sandbox.base import SandboxSpec
from alebuild.sandbox.local import LocalProvider, bwrap_available

ROOT = "/media/user/data/agenthle"

MODES = [
    pytest.param(
        True,
        id="bwrap",
        marks=pytest.mark.skipif(not bwrap_available(), reason="bubblewrap unavailable"),
    ),
    pytest.param(False, id="none"),
]


@pytest.fixture(params=MODES)
def provider(request, tmp_path: Path) -> LocalProvider:
    return LocalProvider(tmp_path / "sandboxes", use_bwrap=request.param)


@pytest.fixture
async def sandbox(provider: LocalProvider):
    async with provider.sandbox(SandboxSpec(build_id="test")) as sbx:
        yield sbx


def _pids_with(token: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``token``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


async def _wait_until(predicate, what: str) -> None:
    """Bounded poll (not a sleep-as-synchronisation): fail if ``predicate`` stays false."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for: {what}")


@pytest.fixture
def pids_with():
    return _pids_with


@pytest.fixture
def wait_until():
    return _wait_until
