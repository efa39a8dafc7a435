from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import alebuild.cache.statcache as statcache_mod
from alebuild.cache.digest import digest_bytes
from alebuild.cache.statcache import StatCache, hash_file


def _aged(path: Path, seconds: float = 100.0) -> None:
    """Move mtime into the past so the entry is not racy."""
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def counting_reads(monkeypatch):
    calls = []
    real = statcache_mod.digest_stream

    def counted(f, algo, **kw):
        calls.append(f.name)
        return real(f, algo, **kw)

    monkeypatch.setattr(statcache_mod, "digest_stream", counted)
    return calls


def test_hash_file_returns_digest_exec_and_size(tmp_path):
    p = tmp_path / "run.sh"
    p.write_bytes(b"#!/bin/sh\necho hi\n")
    p.chmod(0o755)
    assert hash_file(p, "xxh128", None) == (digest_bytes(p.read_bytes()), True, 18)
    p.chmod(0o644)
    assert hash_file(p, "sha256", None)[1:] == (False, 18)


def test_hash_file_rejects_directories(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        hash_file(tmp_path, "xxh128", None)


def test_hit_avoids_reading(tmp_path, counting_reads):
    p = tmp_path / "f"
    p.write_bytes(b"content")
    _aged(p)
    sc = StatCache(None)
    first = hash_file(p, "xxh128", sc)
    assert len(counting_reads) == 1
    second = hash_file(p, "xxh128", sc)
    assert second == first
    assert len(counting_reads) == 1  # the second call never opened the file


def test_touch_without_change_keeps_digest_and_rereads(tmp_path, counting_reads):
    p = tmp_path / "f"
    p.write_bytes(b"content")
    _aged(p)
    sc = StatCache(None)
    d = hash_file(p, "xxh128", sc)[0]
    p.touch()
    assert hash_file(p, "xxh128", sc)[0] == d
    assert len(counting_reads) == 2  # signature changed: the file was read again


def test_content_change_with_same_size_is_detected(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"aaaa")
    _aged(p, 200)
    sc = StatCache(None)
    d1 = hash_file(p, "xxh128", sc)[0]
    p.write_bytes(b"bbbb")
    _aged(p, 200)  # even with the old mtime, ctime has moved
    assert hash_file(p, "xxh128", sc)[0] == digest_bytes(b"bbbb") != d1


def test_racy_mtime_not_recorded(tmp_path, counting_reads):
    p = tmp_path / "f"
    p.write_bytes(b"fresh")  # mtime is now: within the racy window
    sc = StatCache(None)
    st = os.stat(p)
    assert sc.record(str(p), st, "xxh128", digest_bytes(b"fresh")) is False
    assert sc.lookup(str(p), st, "xxh128") is None
    hash_file(p, "xxh128", sc)
    hash_file(p, "xxh128", sc)
    assert len(counting_reads) == 2
    assert len(sc) == 0


def test_algo_is_part_of_the_entry(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x")
    _aged(p)
    sc = StatCache(None)
    hash_file(p, "xxh128", sc)
    assert sc.lookup(os.path.abspath(p), os.stat(p), "sha256") is None
    assert hash_file(p, "sha256", sc)[0].startswith("sha256:")


def test_save_and_reload(tmp_path, counting_reads):
    p = tmp_path / "f"
    p.write_bytes(b"persist me")
    _aged(p)
    store = tmp_path / "cache" / "stat.cache"
    sc = StatCache(store)
    d = hash_file(p, "xxh128", sc)[0]
    sc.save()
    assert store.exists()
    assert not [x for x in store.parent.iterdir() if x.name != "stat.cache"]  # no temp left
    fresh = StatCache(store)
    assert hash_file(p, "xxh128", fresh)[0] == d
    assert len(counting_reads) == 1


def test_save_only_when_dirty(tmp_path):
    store = tmp_path / "stat.cache"
    sc = StatCache(store)
    sc.save()
    assert not store.exists()


def test_corrupt_file_treated_as_empty(tmp_path):
    store = tmp_path / "stat.cache"
    store.write_bytes(b"\x00garbage\xff" * 10)
    sc = StatCache(store)
    assert len(sc) == 0
    p = tmp_path / "f"
    p.write_bytes(b"x")
    _aged(p)
    hash_file(p, "xxh128", sc)
    sc.save()
    assert len(StatCache(store)) == 1


def test_many_entries_roundtrip(tmp_path):
    store = tmp_path / "stat.cache"
    sc = StatCache(store)
    f = tmp_path / "f"
    f.write_bytes(b"x")
    _aged(f)
    old = os.stat(f)
    f.touch()
    st = os.stat(f)
    for i in range(15000):
        sc.record(f"/w/file{i}", old, "xxh128", digest_bytes(str(i).encode()))
    sc.save()
    again = StatCache(store)
    assert len(again) == 15000
    assert again.lookup("/w/file7", old, "xxh128") == digest_bytes(b"7")
    assert again.lookup("/w/file7", st, "xxh128") is None
