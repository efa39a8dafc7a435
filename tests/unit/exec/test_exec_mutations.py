"""Mutation tests on a genrule chain a -> b -> c: what re-runs, and the reasons given."""

from __future__ import annotations

import os

CHAIN = """
[[genrule]]
name = "a"
srcs = ["in.txt"]
outs = ["a.out"]
cmd = "tr a-z A-Z < in.txt > a.out"

[[genrule]]
name = "b"
srcs = [":a"]
outs = ["b.out"]
cmd = "wc -l < a.out | tr -d ' ' > b.out"

[[genrule]]
name = "c"
srcs = [":b"]
outs = ["c.out"]
cmd = "echo lines: $(cat b.out) > c.out"
"""


def _setup(runner):
    runner.write("p/BUILD.toml", CHAIN)
    runner.write("p/in.txt", "one\ntwo\n")
    first = runner.build("//p:c")
    assert first["executed"] == ["//p:a", "//p:b", "//p:c"]
    assert first["exit_code"] == 0


def test_touch_without_change_reruns_nothing(runner):
    _setup(runner)
    path = runner.root / "p/in.txt"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns + 10**9, st.st_mtime_ns + 10**9))
    again = runner.build("//p:c")
    assert again["executed"] == []
    assert again["cached"] == ["//p:a", "//p:b", "//p:c"]


def test_changed_bytes_rerun_a_and_b_but_cut_off_c(runner):
    _setup(runner)
    runner.write("p/in.txt", "uno\ndos\n")  # same line count: b's output is byte-identical
    plan = runner.plan("//p:c")
    assert plan["//p:a"].action == "run"
    assert plan["//p:a"].reasons == ["input_changed: srcs.in.txt"]
    assert plan["//p:b"].action == "maybe" and plan["//p:b"].reasons == ["dep_pending: //p:a"]
    explained = runner.explain("//p:a")
    assert [d[0] for d in explained.diffs] == ["inputs.srcs.in.txt"]
    again = runner.build("//p:c")
    assert again["executed"] == ["//p:a", "//p:b"]
    assert again["cached"] == ["//p:c"]
    b_state = again["states"][next(k for k in again["states"] if str(k) == "//p:b")]
    assert b_state.reasons == ["dep_changed: //p:a"]


def test_changed_line_count_propagates_to_c(runner):
    _setup(runner)
    runner.write("p/in.txt", "one\ntwo\nthree\n")
    again = runner.build("//p:c")
    assert again["executed"] == ["//p:a", "//p:b", "//p:c"]


def test_changing_c_command_reruns_only_c(runner):
    _setup(runner)
    runner.write("p/BUILD.toml", CHAIN.replace("echo lines:", "echo count:"))
    plan = runner.plan("//p:c")
    assert {k: v.action for k, v in plan.items()} == {"//p:a": "cached", "//p:b": "cached", "//p:c": "run"}
    assert plan["//p:c"].reasons == ["field_changed: genrule.cmd"]
    explained = runner.explain("//p:c")
    assert [d[0] for d in explained.diffs] == ["inputs.attrs.cmd"]
    again = runner.build("//p:c")
    assert again["executed"] == ["//p:c"]
    assert (again["cached"]) == ["//p:a", "//p:b"]


def test_failed_action_is_not_cached_and_dependents_are_skipped(runner):
    runner.write("p/BUILD.toml", CHAIN.replace("tr a-z A-Z < in.txt > a.out", "exit 3"))
    runner.write("p/in.txt", "x\n")
    out = runner.build("//p:c")
    assert out["exit_code"] == 1
    failed = {f["label"]: f for f in out["failed"]}
    assert failed["//p:a"]["outcome"] == "failed" and "exited 3" in failed["//p:a"]["reason"]
    assert failed["//p:b"]["outcome"] == "skipped"
    again = runner.build("//p:c")
    assert "//p:a" in again["executed"]  # a failure is never a hit


def test_missing_declared_output_fails(runner):
    runner.write("p/BUILD.toml", '[[genrule]]\nname = "x"\nouts = ["y"]\ncmd = "true"\n')
    out = runner.build("//p:x")
    assert out["failed"][0]["reason"] == "declared output 'y' was not produced"


def test_timeout_fails_the_action(runner):
    runner.write("p/BUILD.toml", '[[genrule]]\nname = "x"\nouts = ["y"]\ncmd = "exec sleep 30"\ntimeout_s = 0.2\n')
    out = runner.build("//p:x")
    assert out["failed"] == [{"label": "//p:x", "outcome": "failed", "reason": "timed out after 0.2s"}]
