"""The CLI contract: exit codes, bare labels, --summary-json, cache maintenance commands."""

from __future__ import annotations

import json

from alebuild.cli import main

GOOD = """
[[genrule]]
name = "a"
srcs = ["in.txt"]
outs = ["a.out"]
cmd = "cp in.txt a.out"
"""


def _cli(runner, *args: str) -> int:
    return main(["-C", str(runner.root), "--cache-dir", str(runner.cache), *args])


def test_exit_codes_and_summary_json(runner, tmp_path, capsys):
    runner.write("p/BUILD.toml", GOOD)
    runner.write("p/in.txt", "x\n")
    summary = tmp_path / "s.json"
    assert _cli(runner, "//p:a", "--no-progress", "--summary-json", str(summary)) == 0
    data = json.loads(summary.read_text())
    assert set(data) >= {"executed", "cached", "failed", "sandboxes_provisioned", "images_built", "results"}
    assert data["executed"] == ["//p:a"] and data["results"]["//p:a"].startswith("xxh128:")
    assert _cli(runner, "build", "//p:a", "--no-progress", "--summary-json", str(summary)) == 0
    assert json.loads(summary.read_text())["cached"] == ["//p:a"]
    runner.write("p/BUILD.toml", GOOD.replace("cp in.txt", "false && cp in.txt"))
    assert _cli(runner, "//p:a", "--no-progress") == 1
    runner.write("p/BUILD.toml", GOOD.replace('name = "a"', 'name = "a"\nbogus = 1'))
    assert _cli(runner, "//p:a", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "p/BUILD.toml:4: field 'bogus' of genrule //p:a" in err
    assert _cli(runner, "//p:nope") == 2


def test_missing_source_is_a_user_error(runner, capsys):
    runner.write("p/BUILD.toml", GOOD.replace("in.txt", "missing.txt"))
    assert _cli(runner, "//p:a", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "p/BUILD.toml:2: //p:a srcs: input file p/missing.txt does not exist" in err
    assert "0 executed" in err


def test_cycle_is_printed(runner, capsys):
    runner.write("p/BUILD.toml", """
        [[genrule]]
        name = "x"
        srcs = [":y"]
        outs = ["x"]
        cmd = "true"

        [[genrule]]
        name = "y"
        srcs = [":x"]
        outs = ["y"]
        cmd = "true"
        """)
    assert _cli(runner, "//p:x") == 2
    assert "dependency cycle: //p:x -> //p:y -> //p:x" in capsys.readouterr().err


def test_query_plan_explain_clean_and_cache_commands(runner, capsys):
    runner.write("p/BUILD.toml", GOOD + '\n[[genrule]]\nname = "b"\nsrcs = [":a"]\nouts = ["b"]\ncmd = "tr x y < a.out > b"\n')
    runner.write("p/in.txt", "x\n")
    assert _cli(runner, "query", "deps(//p:b)", "--output", "json") == 0
    out = json.loads(capsys.readouterr().out)
    assert {e["label"] for e in out} == {"//p:a", "//p:b"}
    assert _cli(runner, "plan", "//p:b") == 0
    assert "run    //p:a  [genrule]  new" in capsys.readouterr().out
    assert _cli(runner, "//p:b", "--no-progress") == 0
    capsys.readouterr()
    assert _cli(runner, "explain", "//p:b") == 0
    assert "up to date" in capsys.readouterr().out
    assert _cli(runner, "cache", "stats") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["actions"] == 2 and stats["blobs"] >= 2
    assert _cli(runner, "cache", "verify") == 0
    assert json.loads(capsys.readouterr().out)["corrupt"] == []
    assert _cli(runner, "cache", "gc", "--max-size", "0") == 0
    capsys.readouterr()
    assert _cli(runner, "//p:b", "--no-progress", "--summary-json", str(runner.cache / "s.json")) == 0
    assert json.loads((runner.cache / "s.json").read_text())["executed"] == ["//p:a", "//p:b"]
    assert _cli(runner, "clean") == 0
    assert not (runner.cache / "builds").exists()


def test_sandboxes_gc_removes_leftovers_of_dead_builds(runner, capsys):
    leftover = runner.cache / "sandboxes" / "20260101-dead-1"
    (leftover / "root").mkdir(parents=True)
    (leftover / ".alebuild-sandbox.json").write_text('{"build_id": "20260101-dead", "pid": 999999999}')
    assert _cli(runner, "sandboxes", "gc") == 0
    assert "removed 1 leaked sandbox" in capsys.readouterr().out
    assert not leftover.exists()
