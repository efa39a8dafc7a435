from __future__ import annotations

import dataclasses

import subprocess
import sys
import textwrap

import pytest

from alebuild.cache.action_cache import ActionCache, ActionRecord
from alebuild.cache.cas import LocalCAS
from alebuild.cache.digest import digest_bytes, digest_json


@pytest.fixture
def stores(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    ac = ActionCache(tmp_path / "ac", cas)
    yield cas, ac
    ac.close()


def _record(key: str, outputs: dict[str, str], label: str = "//p:t") -> ActionRecord:
    return ActionRecord(
        key=key,
        label=label,
        kind="genrule",
        outcome="ok",
        outputs=outputs,
        value={"score": 1.0},
        meta={"wall_s": 2.5},
        keyfile={"schema": 1, "inputs": {"a": 1}},
        output_digest=digest_json(outputs),
        created_at=1700000000.0,
    )


def test_record_json_roundtrip():
    rec = _record("xxh128:" + "0" * 32, {"out": digest_bytes(b"x")})
    assert ActionRecord.from_json(rec.to_json()) == rec
    assert ActionRecord.from_json(rec.to_json().encode()) == rec


def test_put_get_last_key(stores):
    cas, ac = stores
    blob = cas.put_bytes(b"result")
    key = digest_json({"k": 1})
    rec = _record(key, {"out": blob})
    assert ac.get(key) is None
    ac.put(rec)
    # A hit carries no keyfile: it is stored apart and read only by `keyfile()`.
    assert ac.get(key) == dataclasses.replace(rec, keyfile={}, trees=[])
    assert ac.last_key("//p:t") == key
    assert ac.keyfile(key) == {"schema": 1, "inputs": {"a": 1}}
    assert [r.key for r in ac.iter_records()] == [key]
    ac.delete(key)
    assert ac.get(key) is None and ac.keyfile(key) is None


def test_persists_across_instances(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    key = digest_json({"k": 2})
    with ActionCache(tmp_path / "ac", cas) as ac:
        ac.put(_record(key, {"out": cas.put_bytes(b"r")}))
    with ActionCache(tmp_path / "ac", LocalCAS(tmp_path / "cas")) as ac2:
        assert ac2.get(key).outcome == "ok"


def test_put_refuses_missing_blobs(stores):
    _cas, ac = stores
    key = digest_json({"k": 3})
    with pytest.raises(ValueError, match="not stored"):
        ac.put(_record(key, {"out": digest_bytes(b"never stored")}))
    assert ac.keyfile(key) is None and ac.last_key("//p:t") is None


def test_put_refuses_incomplete_tree(stores, tmp_path):
    cas, ac = stores
    src = tmp_path / "tree"
    src.mkdir()
    (src / "f").write_text("member")
    tree = cas.put_tree(src)
    LocalCAS(cas.root).delete(digest_bytes(b"member"))  # another process evicts it
    fresh_ac = ActionCache(tmp_path / "ac", LocalCAS(cas.root))
    try:
        with pytest.raises(ValueError):
            fresh_ac.put(_record(digest_json({"k": 4}), {"out": tree}))
    finally:
        fresh_ac.close()


def test_deleted_blob_makes_a_miss_but_keeps_keyfile(stores, tmp_path):
    cas, ac = stores
    src = tmp_path / "tree"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("artifact")
    tree = cas.put_tree(src)
    key = digest_json({"k": 5})
    ac.put(_record(key, {"artifacts": tree, "log": cas.put_bytes(b"log")}))
    assert ac.get(key) is not None
    cas.delete(digest_bytes(b"artifact"))
    assert ac.get(key) is None
    assert ac.keyfile(key) == {"schema": 1, "inputs": {"a": 1}}  # entry kept for explain
    cas.put_bytes(b"artifact")  # refetched: a hit again
    assert ac.get(key) is not None


def test_unknown_fields_from_newer_versions_ignored():
    rec = _record("xxh128:" + "1" * 32, {})
    data = rec.to_json()[:-1] + ',"future_field":42}'
    assert ActionRecord.from_json(data) == rec


_WORKER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from alebuild.cache.action_cache import ActionCache
    from alebuild.cache.cas import LocalCAS

    base = Path(sys.argv[1]); rounds = int(sys.argv[2]); me = sys.argv[3]
    ac = ActionCache(base / "ac", LocalCAS(base / "cas"))
    inside = base / "inside"; counter = base / "counter"
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for _ in range(rounds):
        with ac.lock("xxh128:" + "a" * 32):
            # O_EXCL: fails if another holder is inside the critical section right now.
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            n = int(counter.read_text())
            counter.write_text(str(n + 1))
            with open(base / "log", "a") as log:
                log.write(me + "\\n")
            os.unlink(inside)
    ac.close()
    """
)


def test_lock_excludes_other_processes(tmp_path):
    (tmp_path / "counter").write_text("0")
    rounds = 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), str(rounds), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2", "p3")
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    errors = []
    for p in procs:
        _out, err = p.communicate(timeout=60)
        if p.returncode != 0:
            errors.append(err)
    assert errors == []
    # Every increment survived: no two read-modify-write cycles interleaved.
    assert int((tmp_path / "counter").read_text()) == 3 * rounds
    assert not (tmp_path / "inside").exists()


def test_locks_on_different_keys_are_independent(tmp_path):
    """Two holders of different keys do not block each other (would deadlock otherwise)."""
    cas = LocalCAS(tmp_path / "cas")
    with ActionCache(tmp_path / "ac", cas) as ac:
        with ac.lock(digest_json({"a": 1})), ac.lock(digest_json({"b": 2})):
            pass
        with ac.lock("not-a-digest label key"):
            pass
        assert len(list((tmp_path / "ac" / "locks").iterdir())) == 3


def test_stale_recent_hit_falls_back_to_the_database(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    key = digest_json({"k": "stale"})
    old_blob, new_blob = cas.put_bytes(b"old"), cas.put_bytes(b"new")
    with ActionCache(tmp_path / "ac", cas) as first:
        first.put(_record(key, {"out": old_blob}))  # saved as a recent hit on close
    second = ActionCache(tmp_path / "ac", cas)
    second.put(_record(key, {"out": new_blob}))  # rebuilt elsewhere; not closed yet
    cas.delete(old_blob)
    with ActionCache(tmp_path / "ac", cas) as third:
        rec = third.get(key)
        assert rec is not None and rec.outputs == {"out": new_blob}
    second.close()
