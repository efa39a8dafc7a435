from __future__ import annotations

import os

import pytest

from alebuild.cache.cas import LocalCAS
from alebuild.cache.digest import digest_bytes
from alebuild.cache.gc import gc, parse_size, reachable


def _put_at(cas: LocalCAS, data: bytes, mtime: float) -> str:
    d = cas.put_bytes(data)
    os.utime(cas.path_of(d), (mtime, mtime))
    return d


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50G", 50 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1k", 1024),
        ("2T", 2 * 1024**4),
        ("123", 123),
        (123, 123),
        ("1.5G", int(1.5 * 1024**3)),
        ("10GiB", 10 * 1024**3),
        ("10GB", 10 * 1024**3),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "G", "5X", "-1", "1,5G", -3])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


def test_gc_evicts_lru_first_until_under_size(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    old = _put_at(cas, b"a" * 100, 1000)
    mid = _put_at(cas, b"b" * 100, 2000)
    new = _put_at(cas, b"c" * 100, 3000)
    report = gc(cas, max_size=250, max_age_s=None, keep=set(), now=4000)
    assert (report.removed, report.freed, report.kept) == (1, 100, 200)
    assert not cas.has(old) and cas.has(mid) and cas.has(new)


def test_touch_protects_recently_used(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    old = _put_at(cas, b"a" * 100, 1000)
    mid = _put_at(cas, b"b" * 100, 2000)
    cas.touch(old)  # read recently: now the newest
    gc(cas, max_size=100, max_age_s=None, keep=set(), now=10**10)
    assert cas.has(old) and not cas.has(mid)


def test_gc_never_evicts_pinned_even_over_size(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    pinned = _put_at(cas, b"p" * 100, 1000)
    other = _put_at(cas, b"o" * 100, 2000)
    report = gc(cas, max_size=0, max_age_s=None, keep={pinned}, now=3000)
    assert cas.has(pinned) and not cas.has(other)
    assert report.kept == 100 and report.removed == 1


def test_gc_max_age(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    ancient = _put_at(cas, b"x", 100)
    recent = _put_at(cas, b"y", 9_900)
    pinned_old = _put_at(cas, b"z", 50)
    report = gc(cas, max_size=None, max_age_s=1000, keep={pinned_old}, now=10_000)
    assert not cas.has(ancient) and cas.has(recent) and cas.has(pinned_old)
    assert report.removed == 1 and report.freed == 1


def test_reachable_expands_trees_and_gc_keeps_them(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("inner file")
    (src / "top").write_text("top file")
    os.symlink("/etc/passwd", src / "link")
    cas = LocalCAS(tmp_path / "cas")
    tree = cas.put_tree(src)
    for d, _, _ in cas.iter_blobs():
        os.utime(cas.path_of(d), (1, 1))
    junk = _put_at(cas, b"junk", 5)  # newer than the tree, but unpinned
    keep = reachable(cas, [tree, digest_bytes(b"missing root")])
    assert digest_bytes(b"inner file") in keep and digest_bytes(b"top file") in keep
    assert len(keep) == 5  # root, sub tree, 2 files, the missing root itself
    gc(cas, max_size=0, max_age_s=None, keep=keep, now=100)
    assert cas.has_all(tree) and not cas.has(junk)


def test_gc_cleans_stale_temp_files(tmp_path):
    cas = LocalCAS(tmp_path / "cas")
    cas.put_bytes(b"x")
    stale = cas.root / "tmp" / ".tmp-crashed"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    fresh = cas.root / "tmp" / ".tmp-inflight"
    fresh.write_bytes(b"writing")
    gc(cas, max_size=None, max_age_s=None, keep=set(), now=os.stat(fresh).st_mtime)
    assert not stale.exists() and fresh.exists()
