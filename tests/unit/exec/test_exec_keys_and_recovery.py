"""Key stability across processes/paths/hash seeds, totality, corrupt blobs, crash resume,
and two concurrent builds sharing one cache."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alebuild.cache.digest import UnhashableError
from alebuild.core.labels import Label
from alebuild.exec.keys import InputHasher, make_keyfile

ALEBUILD = [sys.executable, "-m", "alebuild.cli"]

TWO = """
[[genrule]]
name = "a"
srcs = ["in.txt", "data/*.csv"]
outs = ["a.out"]
cmd = "cat in.txt data/*.csv > a.out"
doc = "display text, not keyed"

[[genrule]]
name = "b"
srcs = [":a"]
outs = ["b.out"]
cmd = "sort a.out > b.out"
"""


def _plan_keys(root: Path, cache: Path, seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [*ALEBUILD, "--cache-dir", str(cache), "plan", "--json", "//p:b"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    )
    return {e["label"]: e["key"] for e in json.loads(out.stdout)}


def _make(runner_root: Path) -> None:
    (runner_root / "p/data").mkdir(parents=True)
    (runner_root / "p/BUILD.toml").write_text(TWO)
    (runner_root / "p/in.txt").write_text("z\ny\n")
    for i in range(12):
        (runner_root / f"p/data/f{i:02}.csv").write_text(f"{i},v{i}\n")


def test_keys_identical_across_processes_paths_and_hash_seeds(tmp_path):
    one, two = tmp_path / "checkout-one", tmp_path / "elsewhere" / "checkout-two"
    for root in (one, two):
        root.mkdir(parents=True)
        (root / "BUILD.toml").write_text("[workspace]\n")
        _make(root)
    k1 = _plan_keys(one, tmp_path / "cache1", "1")
    k2 = _plan_keys(two, tmp_path / "cache2", "4242")
    k3 = _plan_keys(one, tmp_path / "cache3", "random")
    assert k1["//p:a"] and k1 == k2 == k3
    # Built on one checkout, the other checkout (own cache) plans the same keys as hits.
    subprocess.run([*ALEBUILD, "--cache-dir", str(tmp_path / "cache1"), "//p:b", "--no-progress"],
                   cwd=one, check=True, capture_output=True)
    shutil.copytree(tmp_path / "cache1", tmp_path / "cache2", dirs_exist_ok=True)
    plan = subprocess.run([*ALEBUILD, "--cache-dir", str(tmp_path / "cache2"), "plan", "//p:b"],
                          cwd=two, capture_output=True, text=True, check=True)
    assert "0 to run, 2 cached" in plan.stdout


def test_not_keyed_field_does_not_change_the_key_but_keyed_does(runner):
    _make(runner.root)
    before = runner.plan("//p:b")["//p:a"].key
    runner.write("p/BUILD.toml", TWO.replace("display text", "other text"))
    assert runner.plan("//p:b")["//p:a"].key == before
    runner.write("p/BUILD.toml", TWO.replace("cat in.txt", "cat  in.txt"))
    assert runner.plan("//p:b")["//p:a"].key != before


def test_executable_bit_is_part_of_the_key(runner):
    _make(runner.root)
    before = runner.plan("//p:b")["//p:a"].key
    (runner.root / "p/in.txt").chmod(0o755)
    assert runner.plan("//p:b")["//p:a"].key != before


def test_unhashable_input_raises_instead_of_being_skipped(runner):
    _make(runner.root)
    ws = runner.workspace()
    target = ws.loader.target(Label("p", "a"))

    class Sneaky(type(target.rule)):
        def inputs(self, target, ctx):
            return {"tags": {"x", "y"}}

    bad = type(target)(target.label, target.kind, target.spec, Sneaky(), target.file, target.line)
    with pytest.raises(UnhashableError, match=r"inputs.tags: cannot hash a value of type set"):
        make_keyfile(bad, {}, ws.loader, InputHasher("xxh128", None))
    ws.close()


def test_corrupt_blob_is_detected_evicted_and_rebuilt(runner):
    _make(runner.root)
    first = runner.build("//p:b")
    a_out = first["states"][Label("p", "a")].outputs["a.out"]
    ws = runner.workspace()
    blob = ws.cas.path_of(a_out)
    ws.close()
    data = bytearray(blob.read_bytes())
    data[0] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    runner.write("p/BUILD.toml", TWO.replace("sort a.out", "sort -r a.out"))  # b must read a.out
    again = runner.build("//p:b")
    assert again["exit_code"] == 0
    assert again["executed"] == ["//p:a", "//p:b"]  # a rebuilt after its blob was evicted
    assert blob.read_bytes() != bytes(data)
    ws = runner.workspace()
    assert ws.cache_verify()["corrupt"] == []
    ws.close()


def test_deleted_blob_makes_the_entry_a_miss(runner):
    _make(runner.root)
    first = runner.build("//p:b")
    ws = runner.workspace()
    ws.cas.path_of(first["states"][Label("p", "b")].outputs["b.out"]).unlink()
    ws.close()
    again = runner.build("//p:b")
    assert again["executed"] == ["//p:b"] and again["cached"] == ["//p:a"]


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"build exited before {what}: {proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _blocking_chain(runner, gate: Path, started: Path, counter: Path) -> None:
    runner.write("p/in.txt", "x\n")
    runner.write("p/BUILD.toml", f"""
        [[genrule]]
        name = "first"
        srcs = ["in.txt"]
        outs = ["f.out"]
        cmd = "cp in.txt f.out"

        [[genrule]]
        name = "slow"
        srcs = [":first"]
        outs = ["s.out"]
        cmd = "echo run >> {counter}; touch {started}; while [ ! -e {gate} ]; do sleep 0.02; done; cp f.out s.out"
        """)


def test_sigkill_mid_build_resumes_and_cache_verifies(runner, tmp_path):
    gate, started, counter = tmp_path / "gate", tmp_path / "started", tmp_path / "count"
    _blocking_chain(runner, gate, started, counter)
    cmd = [*ALEBUILD, "--cache-dir", str(runner.cache), "//p:slow", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=runner.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    _wait_for(started, proc, "the slow action to start")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    gate.touch()
    again = runner.build("//p:slow")
    assert again["cached"] == ["//p:first"] and again["executed"] == ["//p:slow"]
    ws = runner.workspace()
    assert ws.cache_verify()["corrupt"] == []
    ws.close()


def test_sigterm_cancels_cleanly_and_exit_code_says_interrupted(runner, tmp_path):
    gate, started, counter = tmp_path / "gate", tmp_path / "started", tmp_path / "count"
    _blocking_chain(runner, gate, started, counter)
    cmd = [*ALEBUILD, "--cache-dir", str(runner.cache), "//p:slow", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=runner.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(started, proc, "the slow action to start")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    gate.touch()
    again = runner.build("//p:slow")
    assert again["cached"] == ["//p:first"] and again["executed"] == ["//p:slow"]


def test_two_concurrent_builds_run_the_action_once(runner, tmp_path):
    gate, started, counter = tmp_path / "gate", tmp_path / "started", tmp_path / "count"
    _blocking_chain(runner, gate, started, counter)
    cmd = [*ALEBUILD, "--cache-dir", str(runner.cache), "//p:slow", "--no-progress"]
    procs = [subprocess.Popen(cmd, cwd=runner.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    _wait_for(started, procs[0], "one build to start the action")
    gate.touch()
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
    assert counter.read_text().count("run") == 1
