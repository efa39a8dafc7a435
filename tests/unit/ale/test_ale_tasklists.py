from __future__ import annotations

import sys

import pytest

from alebuild.ale.tasklists import TaskRef, check_task_refs, parse_task_list
from alebuild.core.errors import UserError

TEXT = """\
# near-term tier
demo/t1
demo/t2   # trailing comment

other/x
demo/t1
"""


def test_text_list(tmp_path):
    path = tmp_path / "near-term.txt"
    path.write_text(TEXT)
    refs = parse_task_list(path, display="selected_tasks/near-term.txt")
    assert [(r.task, r.variants, r.line) for r in refs] == [
        ("demo/t1", (0,), 2),
        ("demo/t2", (0,), 3),
        ("other/x", (0,), 5),
    ]
    assert refs[0].file == "selected_tasks/near-term.txt"
    assert (refs[1].domain, refs[1].name) == ("demo", "t2")


@pytest.mark.parametrize("bad", ["demo", "demo/t1/extra", "de mo/t1", "../t1", "demo/"])
def test_malformed_line_names_file_and_line(tmp_path, bad):
    path = tmp_path / "l.txt"
    path.write_text(f"demo/t1\n\n{bad}\n")
    with pytest.raises(UserError) as info:
        parse_task_list(path, display="l.txt")
    assert (info.value.file, info.value.line) == ("l.txt", 3)
    assert str(info.value).startswith("l.txt:3: ")


def test_tasks_prefix_tolerated(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("tasks/demo/t1/\n")
    assert parse_task_list(path)[0].task == "demo/t1"


YAML = """\
# a YAML list
- demo/t1
- path: demo/t2
  variants: [0, 2]
- {path: other/x, variants: [1]}
- path: other/y   # block list below
  variants:
    - 3
    - 4
- path: demo/t1
  variants: [1]
"""


@pytest.mark.parametrize("pyyaml", [True, False])
def test_yaml_list(tmp_path, monkeypatch, pyyaml):
    if pyyaml:
        pytest.importorskip("yaml")
    else:
        monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml -> ImportError
    path = tmp_path / "sel.yaml"
    path.write_text(YAML)
    refs = parse_task_list(path)
    assert [(r.task, r.variants, r.line) for r in refs] == [
        ("demo/t1", (0, 1), 2),
        ("demo/t2", (0, 2), 3),
        ("other/x", (1,), 5),
        ("other/y", (3, 4), 6),
    ]


@pytest.mark.parametrize("pyyaml", [True, False])
@pytest.mark.parametrize(
    "text, line",
    [
        ("- demo/t1\n- path: demo/t2\n  variant: [1]\n", 2),
        ("- demo/t1\n- path: demo/t2\n  variants: [a]\n", 2),
        ("- demo/t1\n- {variants: [1]}\n", 2),
        ("demo: t1\n", 1),
    ],
)
def test_yaml_errors(tmp_path, monkeypatch, pyyaml, text, line):
    if pyyaml:
        pytest.importorskip("yaml")
    else:
        monkeypatch.setitem(sys.modules, "yaml", None)
    path = tmp_path / "sel.yml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        parse_task_list(path, display="sel.yml")
    assert (info.value.file, info.value.line) == ("sel.yml", line)


def test_check_task_refs(workspace):
    ok = TaskRef("demo/t1", (0,), 1, "tasks/selected/demo.txt")
    check_task_refs([ok], workspace / "tasks")
    missing = TaskRef("demo/nope", (0,), 7, "tasks/selected/demo.txt")
    with pytest.raises(UserError) as info:
        check_task_refs([ok, missing], workspace / "tasks")
    assert str(info.value) == (
        "tasks/selected/demo.txt:7: no task package 'demo/nope' (tasks/demo/nope/main.py not found)"
    )
