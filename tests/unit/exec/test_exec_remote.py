"""Remote tiers over a file:// store: sharing, verification, visibility, remote GC."""

from __future__ import annotations

import os
from pathlib import Path

from alebuild.api import Workspace
from alebuild.exec.scheduler import BuildOptions

CHAIN = """
[[genrule]]
name = "secret"
srcs = ["key.txt"]
outs = ["s.out"]
cmd = "tr a-z A-Z < key.txt > s.out"
visibility = "private"

[[genrule]]
name = "derived"
srcs = [":secret"]
outs = ["d.out"]
cmd = "rev s.out > d.out"

[[genrule]]
name = "open"
srcs = ["pub.txt"]
outs = ["o.out"]
cmd = "cp pub.txt o.out"
"""


def _build(runner, cache: Path, remotes: list[str], *labels: str) -> dict:
    ws = Workspace(runner.root, cache_dir=cache, remotes=remotes)
    try:
        result = ws.build(list(labels), BuildOptions(backoff_s=0), progress=False)
        out = result.summary()
        out["warnings"] = [e for e in _events(result.log_path) if e["event"] == "warning"]
        return out
    finally:
        ws.close()


def _events(path: Path) -> list[dict]:
    from alebuild.exec.events import read_events

    return read_events(path)


def _objects(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            out[os.path.join(dirpath, f)] = Path(dirpath, f).read_bytes()
    return out


def _setup(runner, tmp_path) -> tuple[str, Path]:
    runner.write("p/BUILD.toml", CHAIN)
    runner.write("p/key.txt", "topsecretvalue\n")
    runner.write("p/pub.txt", "hello\n")
    store = tmp_path / "remote"
    return f"file://{store}", store


def test_second_cache_hits_remote_and_private_outputs_never_leave(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    first = _build(runner, tmp_path / "c1", [url], "//p:derived", "//p:open")
    assert first["executed"] == ["//p:derived", "//p:open", "//p:secret"]
    blobs = b"".join(_objects(store).values())
    assert b"TOPSECRETVALUE" not in blobs and b"EULAVTERCESPOT" not in blobs
    assert b"hello" in blobs
    second = _build(runner, tmp_path / "c2", [url], "//p:derived", "//p:open")
    # The public action came from the remote; private ones were never shared, so they run.
    assert second["cached"] == ["//p:open"]
    assert second["executed"] == ["//p:derived", "//p:secret"]


def test_private_store_receives_private_results(runner, tmp_path):
    _url, _ = _setup(runner, tmp_path)
    private = tmp_path / "private"
    runner.write("BUILD.toml", f'[workspace]\n[[workspace.remote]]\nurl = "file://{private}"\nvisibility = "private"\n')
    _build(runner, tmp_path / "c1", [], "//p:derived")
    again = _build(runner, tmp_path / "c2", [], "//p:derived")
    assert again["executed"] == [] and again["cached"] == ["//p:derived", "//p:secret"]


def test_corrupt_remote_blob_is_not_used_and_the_action_reruns(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    _build(runner, tmp_path / "c1", [url], "//p:open")
    for path, data in _objects(store).items():
        if data == b"hello\n":
            Path(path).chmod(0o644)
            Path(path).write_bytes(b"HELLO\n")
    again = _build(runner, tmp_path / "c2", [url], "//p:open")
    assert again["executed"] == ["//p:open"]
    assert any("does not match" in w["message"] or "not used" in w["message"] for w in again["warnings"])
    ws = Workspace(runner.root, cache_dir=tmp_path / "c2")
    assert ws.cache_verify()["corrupt"] == []
    ws.close()


def test_unreachable_remote_warns_once_and_builds_locally(runner, tmp_path):
    _url, _ = _setup(runner, tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    out = _build(runner, tmp_path / "c1", [f"file://{blocked}"], "//p:derived", "//p:open")
    assert out["failed"] == [] and len(out["executed"]) == 3
    assert len(out["warnings"]) == 1 and str(blocked) in out["warnings"][0]["message"]


def test_later_build_uploads_what_a_down_remote_missed(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    store.write_text("not a directory yet")
    _build(runner, tmp_path / "c1", [url], "//p:open")
    store.unlink()
    again = _build(runner, tmp_path / "c1", [url], "//p:open")
    assert again["executed"] == [] and again["warnings"] == []
    fresh = _build(runner, tmp_path / "c2", [url], "//p:open")
    assert fresh["executed"] == [] and fresh["cached"] == ["//p:open"]


def test_remote_gc_is_a_dry_run_unless_applied(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    _build(runner, tmp_path / "c1", [url], "//p:open")
    before = _objects(store)
    ws = Workspace(runner.root, cache_dir=tmp_path / "c1")
    try:
        dry = ws.remote_gc(url, 0, None, apply=False)
        assert dry.removed >= 1 and _objects(store) == before
        done = ws.remote_gc(url, 0, None, apply=True)
        assert done.removed == dry.removed
        assert not any("/cas/" in p for p in _objects(store))
    finally:
        ws.close()


def test_a_wiped_store_is_refilled_from_local_hits(runner, tmp_path):
    import shutil

    url, store = _setup(runner, tmp_path)
    _build(runner, tmp_path / "c1", [url], "//p:open")
    shutil.rmtree(store)  # the bucket was emptied (or an in-memory emulator restarted)
    again = _build(runner, tmp_path / "c1", [url], "//p:open")
    assert again["executed"] == []
    fresh = _build(runner, tmp_path / "c2", [url], "//p:open")
    assert fresh["executed"] == [] and fresh["cached"] == ["//p:open"]


def test_entry_whose_blobs_vanished_is_replaced(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    _build(runner, tmp_path / "c1", [url], "//p:open")
    ws = Workspace(runner.root, cache_dir=tmp_path / "c1")
    ws.remote_gc(url, 0, None, apply=True)  # blobs gone, the ac/ entry stays
    ws.close()
    first = _build(runner, tmp_path / "c2", [url], "//p:open")
    assert first["executed"] == ["//p:open"]  # the dangling entry is a miss (and is dropped)
    second = _build(runner, tmp_path / "c3", [url], "//p:open")
    assert second["executed"] == []  # the re-run's entry replaced it


def test_read_only_remote_is_never_written(runner, tmp_path):
    url, store = _setup(runner, tmp_path)
    _build(runner, tmp_path / "c1", [url], "//p:open")
    before = _objects(store)
    runner.write("BUILD.toml", f'[workspace]\n[[workspace.remote]]\nurl = "{url}"\nwrite = false\n')
    out = _build(runner, tmp_path / "c2", [], "//p:open", "//p:derived")
    assert out["cached"] == ["//p:open"] and out["warnings"] == []
    assert _objects(store) == before


def test_deep_chain_with_a_remote(runner, tmp_path):
    """Visibility is derived without recursion: a 1,500-long chain publishes fine."""
    body = '[[genrule]]\nname = "t0"\nouts = ["o"]\ncmd = "echo 0 > o"\n'
    for i in range(1, 1500):
        body += f'[[genrule]]\nname = "t{i}"\nsrcs = [":t{i - 1}"]\nouts = ["o{i}"]\ncmd = "true > o{i}"\n'
    runner.write("p/BUILD.toml", body)
    ws = Workspace(runner.root, cache_dir=tmp_path / "c", remotes=[f"file://{tmp_path / 'r'}"])
    try:
        assert all(not ws_private for ws_private in _private_flags(ws, "//p:t1499"))
    finally:
        ws.close()


def _private_flags(ws, label):
    from alebuild.exec.events import EventBus
    from alebuild.exec.scheduler import BuildOptions as Options

    _, graph = ws.graph([label])
    sched = ws._scheduler(graph, Options(), EventBus(None, "t"))
    return [sched.private(lbl) for lbl in graph.topo_order()]
