"""A small ALE-style workspace on disk, and a dict-backed fake session."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

MAIN_PY = '''
"""Demo task: write a token back."""
import os
import random

import cua_bench as cb
from tasks.common_config import PREFIX
from tasks.demo._shared.util import shout

ROOT = os.environ["REMOTE_ROOT_DIR"]
OS_TYPE = os.environ["OS_TYPE"]
IMPORT_TOKEN = random.randrange(10**9)


@cb.tasks_config(split="train")
def load():
    token = random.randrange(10**9)
    return [
        cb.Task(
            description=shout(f"{PREFIX} write {ROOT}/demo/t1/base/output/answer.txt"),
            metadata={"token": token, "variant": "base"},
            computer={"provider": "computer", "setup_config": {"os_type": OS_TYPE}},
        ),
        cb.Task(description="second variant", metadata={"token": token}),
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await session.write_file("/in/token.txt", str(task_cfg.metadata["token"]))
    await session.write_file("/in/late.txt", str(random.randrange(10**9)))


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session):
    result = await session.run_command("score")
    from tasks.demo._shared.grading import grade

    return grade(result)
'''


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, "tasks/common_config.py", 'PREFIX = "Please"\n')
    write(root, "tasks/demo/_shared/__init__.py", "")
    write(
        root,
        "tasks/demo/_shared/util.py",
        "from .consts import BANG\n\n\ndef shout(s):\n    return s + BANG\n",
    )
    write(root, "tasks/demo/_shared/consts.py", 'BANG = "!"\n')
    write(
        root,
        "tasks/demo/_shared/grading.py",
        "def grade(result):\n    return result\n",
    )
    write(root, "tasks/demo/t1/main.py", MAIN_PY)
    write(root, "tasks/demo/t1/scripts/score.py", "print('{}')\n")
    write(root, "tasks/demo/t1/scripts/lib/helper.py", "X = 1\n")
    return root


class FakeSession:
    """Files in a dict; ``run_command`` returns ``result`` (or raises it if an exception)."""

    def __init__(self, result: Any = None) -> None:
        self.files: dict[str, str] = {}
        self.result = result

    async def write_file(self, path: str, content: str) -> None:
        await asyncio.sleep(0)
        self.files[path] = content

    async def read_file(self, path: str) -> str:
        await asyncio.sleep(0)
        return self.files[path]

    async def file_exists(self, path: str) -> bool:
        return path in self.files

    async def run_command(self, command: str, check: bool = False) -> Any:
        await asyncio.sleep(0)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.fixture
def session() -> FakeSession:
    return FakeSession([1.0])


@pytest.fixture
def make_session() -> type[FakeSession]:
    return FakeSession


@pytest.fixture
def put():
    """``put(root, rel, text)`` writes a dedented file, making folders."""
    return write
