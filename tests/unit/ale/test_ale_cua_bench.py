from __future__ import annotations

import sys

from alebuild.ale import cua_bench


def test_install_shim_installs_and_restores(monkeypatch):
    monkeypatch.delitem(sys.modules, "cua_bench", raising=False)
    with cua_bench.install_shim() as cb:
        import cua_bench as imported

        assert imported is cb is cua_bench
        with cua_bench.install_shim() as nested:  # re-entrant
            assert nested is cb
        assert sys.modules["cua_bench"] is cb
    assert "cua_bench" not in sys.modules


def test_install_shim_puts_back_a_previous_module(monkeypatch):
    sentinel = object()
    monkeypatch.setitem(sys.modules, "cua_bench", sentinel)
    monkeypatch.setattr(cua_bench, "_real_package_available", lambda: False)
    with cua_bench.install_shim() as cb:
        assert sys.modules["cua_bench"] is cb
    assert sys.modules["cua_bench"] is sentinel


def test_decorators_tag_and_return_the_function():
    def load():
        return []

    assert cua_bench.tasks_config(split="test")(load) is load
    assert load.__cua_role__ == "tasks_config"
    assert load.__cua_split__ == "test"
    assert cua_bench.evaluate_task()(load).__cua_role__ == "evaluate_task"


def test_task_accepts_extra_kwargs():
    task = cua_bench.Task(description="d", metadata={"a": 1}, task_id="demo/t1")
    assert task.task_id == "demo/t1"
    assert task.extra == {"task_id": "demo/t1"}
    assert task.computer == {}
    assert cua_bench.Task(description="d").metadata == {}
