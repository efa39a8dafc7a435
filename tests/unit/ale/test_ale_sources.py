from __future__ import annotations

import pytest

from alebuild.ale.sources import (
    grade_helpers,
    grade_source,
    helper_closure,
    normalize_text,
    read_text_normalized,
    run_helpers,
    run_source,
    scorer_scripts,
    workspace_imports,
)
from alebuild.core.errors import UserError

BASE = """
import cua_bench as cb

@cb.setup_task(split="train")
async def start(task_cfg, session):
    await session.write_file("/a", "1")

@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session):
    return [1.0]
"""


def test_run_source_ignores_evaluate_edits_and_formatting():
    edited = BASE.replace(
        "return [1.0]", "x = await session.read_file('/a')\n    return [float(x)]"
    )
    reformatted = BASE.replace('split="train"', "split = 'train'") + "\n\n# a comment\n"
    assert run_source(edited) == run_source(BASE)
    assert run_source(reformatted) == run_source(BASE)
    assert "evaluate" not in run_source(BASE)
    assert grade_source(edited) != grade_source(BASE)
    assert grade_source(reformatted) == grade_source(BASE)


def test_run_source_changes_when_start_changes():
    assert run_source(BASE.replace('"1"', '"2"')) != run_source(BASE)


@pytest.mark.parametrize(
    "decorator",
    ["@cb.evaluate_task()", "@evaluate_task", "@evaluate_task(split='x')"],
)
def test_run_source_decorator_spellings(decorator):
    src = f"async def start(c, s):\n    pass\n\n{decorator}\nasync def grade(c, s):\n    return 1\n"
    assert "grade" not in run_source(src)
    assert "start" in run_source(src)


def test_run_source_falls_back_to_the_name_evaluate():
    src = "def evaluate(c, s):\n    return 1\n\ndef start(c, s):\n    pass\n"
    assert run_source(src) == "def start(c, s):\n    pass"


def test_syntax_error_is_user_error():
    with pytest.raises(UserError) as info:
        run_source("def broken(:\n", filename="tasks/d/t/main.py")
    assert info.value.file == "tasks/d/t/main.py"
    assert info.value.line == 1


def test_helpers_split_run_time_from_grade_time(workspace):
    main = workspace / "tasks/demo/t1/main.py"
    rel = lambda paths: [p.relative_to(workspace).as_posix() for p in paths]  # noqa: E731
    run = rel(run_helpers(main, workspace))
    grade = rel(grade_helpers(main, workspace))
    assert run == [
        "tasks/common_config.py",
        "tasks/demo/_shared/__init__.py",
        "tasks/demo/_shared/consts.py",  # via util's relative import
        "tasks/demo/_shared/util.py",
    ]
    assert "tasks/demo/_shared/grading.py" not in run
    assert grade == sorted(run + ["tasks/demo/_shared/grading.py"])
    assert rel(helper_closure(main, workspace)) == grade
    assert "tasks/demo/t1/main.py" not in grade


def test_workspace_imports_forms(workspace, put):
    put(workspace, "tasks/utils/__init__.py", "")
    put(workspace, "tasks/utils/files.py", "")
    importer = workspace / "tasks/demo/t9/main.py"
    text = (
        "import os, json\n"
        "import tasks.utils.files\n"
        "from tasks.demo import _shared\n"
        "from tasks.demo._shared import util as u, missing_name\n"
        "from tasks import common_config\n"
        "from . import nothing_here\n"
        "from ..nope import x\n"
        "def f():\n    import tasks.demo._shared.grading\n"
    )
    found = [
        p.relative_to(workspace).as_posix() for p in workspace_imports(text, workspace, importer)
    ]
    assert found == [
        "tasks/common_config.py",
        "tasks/demo/_shared/__init__.py",
        "tasks/demo/_shared/grading.py",
        "tasks/demo/_shared/util.py",
        "tasks/utils/__init__.py",
        "tasks/utils/files.py",
    ]


def test_import_cycle_terminates(workspace, put):
    put(workspace, "tasks/a.py", "import tasks.b\n")
    put(workspace, "tasks/b.py", "from tasks import a\n")
    main = put(workspace, "tasks/d/t/main.py", "import tasks.a\n")
    found = [p.name for p in helper_closure(main, workspace)]
    assert found == ["a.py", "b.py"]


def test_scorer_scripts_sorted_recursive(workspace, put):
    put(workspace, "tasks/demo/t1/scripts/__pycache__/score.cpython-312.pyc", "x")
    found = scorer_scripts(workspace / "tasks/demo/t1")
    rel = [p.relative_to(workspace / "tasks/demo/t1/scripts").as_posix() for p in found]
    assert rel == ["lib/helper.py", "score.py"]
    assert scorer_scripts(workspace / "tasks/demo/_shared") == []


def test_read_text_normalized(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(b"\xef\xbb\xbfa = 1\r\nb = 2\r\n")
    assert read_text_normalized(path) == "a = 1\nb = 2\n"
    assert normalize_text("x\ry") == "x\ny"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UserError, match="not UTF-8"):
        read_text_normalized(path)
