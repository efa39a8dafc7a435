"""The no-op fast path replays only when nothing the load and keys depend on changed."""

from __future__ import annotations

import os
import time

import pytest

from alebuild.core.labels import Label

BUILD = """
[[genrule]]
name = "a"
srcs = ["data/*.txt"]
outs = ["a.out"]
cmd = "cat data/*.txt > a.out"

[[genrule]]
name = "b"
srcs = [":a", "extra.txt"]
outs = ["b.out"]
cmd = "cat a.out extra.txt > b.out"
"""


def _age(root) -> None:
    """Make every file and folder look an hour old: recent facts are never trusted."""
    past = time.time() - 3600
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (past, past), follow_symlinks=False)
    os.utime(root, (past, past))


@pytest.fixture
def ws(runner, monkeypatch):
    monkeypatch.delenv("ALEBUILD_NO_FASTPATH", raising=False)
    runner.write("p/BUILD.toml", BUILD)
    runner.write("p/data/one.txt", "one\n")
    runner.write("p/extra.txt", "extra\n")
    _age(runner.root)
    assert runner.build("//...")["executed"] == ["//p:a", "//p:b"]
    recorded = runner.build("//...")  # the first no-op records the snapshot
    assert recorded["executed"] == [] and not _replayed(recorded)
    replayed = runner.build("//...")
    assert _replayed(replayed) and replayed["cached"] == ["//p:a", "//p:b"]
    assert replayed["results"] == recorded["results"]
    return runner


def _replayed(summary) -> bool:
    state = summary["states"][Label("p", "b")]
    return state.status == "cached" and summary.get("replayed", False)


def test_input_edit_is_seen(ws):
    ws.write("p/extra.txt", "EXTRA\n")
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == ["//p:b"]


def test_new_file_matching_a_glob_is_seen(ws):
    ws.write("p/data/two.txt", "two\n")  # no recorded file changed; the folder listing did
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == ["//p:a", "//p:b"]


def test_new_package_under_a_pattern_is_seen(ws):
    ws.write("q/BUILD.toml", '[[genrule]]\nname = "c"\nouts = ["c"]\ncmd = "echo c > c"\n')
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == ["//q:c"]


def test_touched_file_falls_back_then_records_again(ws):
    path = ws.root / "p/extra.txt"
    os.utime(path, (time.time() - 100, time.time() - 100))
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == []
    assert _replayed(ws.build("//..."))


def test_deleted_output_blob_is_a_miss(ws):
    summary = ws.build("//...")
    workspace = ws.workspace()
    workspace.cas.path_of(summary["states"][Label("p", "b")].outputs["b.out"]).unlink()
    workspace.close()
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == ["//p:b"]


def test_switched_off_by_environment(ws, monkeypatch):
    monkeypatch.setenv("ALEBUILD_NO_FASTPATH", "1")
    out = ws.build("//...")
    assert not _replayed(out) and out["executed"] == []
