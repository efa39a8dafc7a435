from __future__ import annotations

import asyncio
import os
import random
import sys

import pytest

from alebuild.ale.taskpkg import (
    GraderError,
    SetupError,
    TaskEnv,
    TaskModule,
    normalize_score,
    task_layout,
)
from alebuild.core.errors import UserError


def _load(ws, **kw):
    return TaskModule.load(ws / "tasks/demo/t1", ws, **kw)


def test_load_and_instruction(workspace):
    mod = _load(workspace, env=TaskEnv())
    assert (
        mod.instruction()
        == "Please write /media/user/data/agenthle/demo/t1/base/output/answer.txt!"
    )
    assert mod.instruction(1) == "second variant"
    assert len(mod.variants()) == 2
    assert mod.variants()[0].computer["setup_config"]["os_type"] == "linux"
    assert mod.variant_name(0) == "base"
    assert "token" in mod.metadata(0)
    with pytest.raises(UserError, match="variant 5 out of range"):
        mod.instruction(5)


def test_env_visible_at_import_and_restored(workspace, monkeypatch):
    monkeypatch.setenv("REMOTE_ROOT_DIR", "sentinel")
    monkeypatch.delenv("OS_TYPE", raising=False)
    path_before = list(sys.path)
    mod = _load(workspace, env=TaskEnv(remote_root="/data/x", os_type="windows"))
    assert "/data/x/demo/t1" in mod.instruction()
    assert mod.variants()[0].computer["setup_config"]["os_type"] == "windows"
    assert os.environ["REMOTE_ROOT_DIR"] == "sentinel"
    assert "OS_TYPE" not in os.environ
    assert sys.path == path_before
    assert not [n for n in sys.modules if n == "tasks" or n.startswith("tasks.")]
    assert "cua_bench" not in sys.modules


async def test_start_then_evaluate(workspace, session):
    mod = _load(workspace)
    await mod.start(0, session)
    assert session.files["/in/token.txt"].isdigit()
    # evaluate imports tasks.demo._shared.grading lazily, after an await: the scope is back
    assert await mod.evaluate(0, session) == 1.0
    assert "tasks.demo._shared.grading" not in sys.modules


@pytest.mark.parametrize(
    "value, expected",
    [
        ([0.5], 0.5),
        ((1, 0), 0.5),
        ({"score": 0.25}, 0.25),
        ({"final_score": 0.75}, 0.75),
        (1, 1.0),
        (True, 1.0),
        (0.0, 0.0),
    ],
)
async def test_evaluate_normalises(workspace, make_session, value, expected):
    mod = _load(workspace)
    assert await mod.evaluate(0, make_session(value)) == expected


@pytest.mark.parametrize("value", ["1.0", [], ["a"], {"points": 1}, None, float("nan")])
async def test_evaluate_bad_return_is_grader_error(workspace, make_session, value):
    mod = _load(workspace)
    with pytest.raises(GraderError) as info:
        await mod.evaluate(0, make_session(value))
    assert info.value.outcome == "grader_error"


async def test_evaluate_exception_is_grader_error(workspace, make_session):
    mod = _load(workspace)
    with pytest.raises(GraderError) as info:
        await mod.evaluate(0, make_session(RuntimeError("judge unreachable")))
    err = info.value
    assert err.error_type == "RuntimeError"
    assert err.error_message == "judge unreachable"
    assert "in evaluate" in err.traceback_text


async def test_start_exception_is_setup_error(workspace, put, make_session):
    put(
        workspace,
        "tasks/demo/t2/main.py",
        """
        import cua_bench as cb

        @cb.tasks_config()
        def load():
            return [cb.Task(description="x")]

        @cb.setup_task()
        async def start(task_cfg, session):
            raise FileNotFoundError("no input data")
    """,
    )
    mod = TaskModule.load(workspace / "tasks/demo/t2", workspace)
    with pytest.raises(SetupError) as info:
        await mod.start(0, make_session())
    assert info.value.error_type == "FileNotFoundError"
    assert "no input data" in str(info.value)


def test_seed_makes_tokens_reproducible(workspace):
    a = _load(workspace, seed=7)
    b = _load(workspace, seed=7)
    c = _load(workspace, seed=8)
    assert a.module.IMPORT_TOKEN == b.module.IMPORT_TOKEN
    assert a.metadata(0)["token"] == b.metadata(0)["token"]
    assert a.metadata(0)["token"] != c.metadata(0)["token"]
    # every load() call starts from the seed, like a fresh ALE phase
    assert a.metadata(0)["token"] == a.metadata(0)["token"]


async def test_seeded_phase_keeps_its_random_state_across_awaits(workspace, make_session):
    alone = make_session()
    await _load(workspace, seed=3).start(0, alone)

    async def noise():
        for _ in range(20):
            random.random()
            await asyncio.sleep(0)

    shared = make_session()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(noise())
        tg.create_task(_load(workspace, seed=3).start(0, shared))
    assert shared.files == alone.files


def test_edits_seen_without_stale_modules(workspace, put, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a developer's machine
    first = _load(workspace)
    assert first.instruction().startswith("Please")
    # same length, same second: a bytecode cache keyed on mtime+size would go stale
    put(workspace, "tasks/common_config.py", 'PREFIX = "Kindly"\n')
    put(
        workspace,
        "tasks/demo/t1/main.py",
        (workspace / "tasks/demo/t1/main.py")
        .read_text()
        .replace("second variant", "SECOND VARIANT"),
    )
    second = _load(workspace)
    assert second.instruction().startswith("Kindly")
    assert second.instruction(1) == "SECOND VARIANT"
    assert first.instruction().startswith("Please")  # the old module keeps its own helpers
    assert not list(workspace.rglob("__pycache__"))


def test_two_workspaces_in_one_process(workspace, tmp_path, put):
    other = tmp_path / "other"
    put(other, "tasks/common_config.py", 'PREFIX = "Other"\n')
    put(
        other,
        "tasks/demo/t1/main.py",
        """
        import cua_bench as cb
        from tasks.common_config import PREFIX

        @cb.tasks_config()
        def load():
            return [cb.Task(description=PREFIX)]
    """,
    )
    a = _load(workspace)
    b = _load(other)
    assert b.instruction() == "Other"
    assert a.instruction().startswith("Please")


def test_fallback_config_object(workspace, put):
    put(
        workspace,
        "tasks/demo/cfg/main.py",
        """
        class _Cfg:
            task_description = "from config object"
            VARIANT_NAME = "hard"

            def to_metadata(self):
                return {"k": 1}

        config = _Cfg()

        async def start(task_cfg, session):
            pass

        async def evaluate(task_cfg, session):
            return [0.5]
    """,
    )
    mod = TaskModule.load(workspace / "tasks/demo/cfg", workspace)
    assert mod.instruction() == "from config object"
    assert mod.metadata() == {"k": 1}
    assert mod.variant_name() == "hard"


async def test_fallback_config_class_and_named_functions(workspace, put, make_session):
    put(
        workspace,
        "tasks/demo/cls/main.py",
        """
        from dataclasses import dataclass

        class BaseConfig:
            def __init__(self, required):
                pass

        @dataclass
        class DemoTaskConfig:
            VARIANT_NAME = "v2"
            task_description: str = "from a Config class"

        async def evaluate(task_cfg, session):
            return {"score": 1 if task_cfg.description.endswith("class") else 0}
    """,
    )
    mod = TaskModule.load(workspace / "tasks/demo/cls", workspace)
    assert mod.instruction() == "from a Config class"
    assert mod.variant_name() == "v2"
    assert await mod.evaluate(0, make_session()) == 1.0


def test_import_error_is_user_error(workspace, put):
    put(workspace, "tasks/demo/bad/main.py", "import tasks.nope\n")
    with pytest.raises(UserError, match="ModuleNotFoundError") as info:
        TaskModule.load(workspace / "tasks/demo/bad", workspace)
    assert info.value.file.endswith("main.py")


@pytest.mark.parametrize(
    "value, expected", [([2], 2.0), ([0, 1, 1, 0], 0.5), ({"score": 1, "final_score": 0}, 1.0)]
)
def test_normalize_score(value, expected):
    assert normalize_score(value) == expected


def test_task_layout_linux_and_windows():
    linux = task_layout(TaskEnv(output_dir="out"), "demo", "t1")
    assert linux.root == "/media/user/data/agenthle/demo/t1/base"
    assert linux.output == "/media/user/data/agenthle/demo/t1/base/out"
    assert linux.reference.endswith("/base/reference")
    win = task_layout(TaskEnv.default_for("windows"), "demo", "t1", "hard")
    assert win.root == "E:\\agenthle\\demo\\t1\\hard"
    assert win.input == "E:\\agenthle\\demo\\t1\\hard\\input"
    assert TaskEnv.default_for("linux").as_environ() == {
        "REMOTE_ROOT_DIR": "/media/user/data/agenthle",
        "OS_TYPE": "linux",
        "REMOTE_OUTPUT_DIR": "output",
    }
