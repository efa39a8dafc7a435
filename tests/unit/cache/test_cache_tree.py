from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from alebuild.cache.digest import digest_bytes
from alebuild.cache.statcache import StatCache
from alebuild.cache.tree import (
    TreeTooLarge,
    hash_tree,
    is_tree_object,
    make_tree_object,
    parse_tree_object,
)


def _populate(root: Path) -> None:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "a.py").write_text("print('a')\n")
    (root / "src" / "b.txt").write_text("bee\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "empty").mkdir()
    os.symlink("src/b.txt", root / "link")


def test_same_content_in_two_places_gives_same_digest(tmp_path):
    a, b = tmp_path / "one", tmp_path / "elsewhere" / "two"
    a.mkdir()
    b.mkdir(parents=True)
    _populate(a)
    _populate(b)
    ra, rb = hash_tree(a), hash_tree(b)
    assert ra.digest == rb.digest
    assert ra.file_count == 3
    assert ra.total_bytes == len("print('a')\n") + len("bee\n") + len("#!/bin/sh\n")
    assert set(ra.files) == {
        digest_bytes(p.read_bytes()) for p in a.rglob("*") if p.is_file() and not p.is_symlink()
    }
    assert list(ra.objects)[-1] == ra.digest  # root last
    assert ra.digest == digest_bytes(ra.objects[ra.digest])


def test_root_object_structure(tmp_path):
    _populate(tmp_path)
    r = hash_tree(tmp_path)
    entries = parse_tree_object(r.objects[r.digest])
    assert [e[0] for e in entries] == ["empty", "link", "run.sh", "src"]
    kinds = {e[0]: (e[1], e[2]) for e in entries}
    assert kinds == {
        "empty": ("dir", 0o755),
        "link": ("symlink", 0),
        "run.sh": ("file", 0o755),
        "src": ("dir", 0o755),
    }
    assert entries[1][3] == "src/b.txt"
    assert all(is_tree_object(o) for o in r.objects.values())
    assert len(r.objects) == 4  # root, empty, src, src/pkg


def test_exec_bit_changes_digest(tmp_path):
    (tmp_path / "tool").write_text("x")
    before = hash_tree(tmp_path).digest
    (tmp_path / "tool").chmod(0o744)
    assert hash_tree(tmp_path).digest != before


def test_exec_modes_normalised_full_modes_kept(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    f.chmod(0o600)
    exec1, full1 = hash_tree(tmp_path, modes="exec"), hash_tree(tmp_path, modes="full")
    f.chmod(0o640)
    exec2, full2 = hash_tree(tmp_path, modes="exec"), hash_tree(tmp_path, modes="full")
    assert exec1.digest == exec2.digest  # group read bit is not an input's business
    assert full1.digest != full2.digest
    assert parse_tree_object(full2.objects[full2.digest])[0][2] == 0o640
    assert parse_tree_object(exec2.objects[exec2.digest])[0][2] == 0o644


def test_full_mode_keeps_directory_modes(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    d.chmod(0o700)
    full = hash_tree(tmp_path, modes="full")
    assert parse_tree_object(full.objects[full.digest])[0][2] == 0o700
    exe = hash_tree(tmp_path, modes="exec")
    assert parse_tree_object(exe.objects[exe.digest])[0][2] == 0o755


def test_symlink_is_hashed_as_link_not_followed(tmp_path):
    os.symlink("/etc/passwd", tmp_path / "pw")
    r = hash_tree(tmp_path)
    (entry,) = parse_tree_object(r.objects[r.digest])
    assert entry == ("pw", "symlink", 0, "/etc/passwd")
    assert r.files == {} and r.file_count == 0
    os.unlink(tmp_path / "pw")
    os.symlink("/etc/hostname", tmp_path / "pw")
    assert hash_tree(tmp_path).digest != r.digest


def test_symlink_to_directory_not_descended(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x").write_text("x")
    os.symlink("real", tmp_path / "alias")
    r = hash_tree(tmp_path)
    assert r.file_count == 1


def test_exclude_gets_relative_slash_paths(tmp_path):
    _populate(tmp_path)
    seen = []

    def exclude(rel: str) -> bool:
        seen.append(rel)
        return rel == "src/pkg"

    r = hash_tree(tmp_path, exclude=exclude)
    assert "src/pkg" in seen and "src/pkg/a.py" not in seen
    assert r.file_count == 2
    import shutil

    shutil.rmtree(tmp_path / "src" / "pkg")
    assert hash_tree(tmp_path).digest == r.digest


def test_caps_raise_tree_too_large(tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}").write_bytes(b"x" * 10)
    with pytest.raises(TreeTooLarge):
        hash_tree(tmp_path, max_files=4)
    with pytest.raises(TreeTooLarge):
        hash_tree(tmp_path, max_bytes=49)
    assert hash_tree(tmp_path, max_files=5, max_bytes=50).file_count == 5
    assert issubclass(TreeTooLarge, ValueError)


def test_special_files_rejected_with_path(tmp_path):
    sock_path = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))
        with pytest.raises(ValueError, match="s.sock"):
            hash_tree(tmp_path)
    finally:
        s.close()
    sock_path.unlink()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="fifo"):
        hash_tree(tmp_path)


def test_bad_modes_value(tmp_path):
    with pytest.raises(ValueError):
        hash_tree(tmp_path, modes="some")


def test_statcache_is_used_for_tree_files(tmp_path):
    (tmp_path / "f").write_text("x")
    sc = StatCache(None)
    hash_tree(tmp_path, statcache=sc)
    assert len(sc) == 0  # just written: racy, not recorded
    import time

    t = time.time() - 100
    os.utime(tmp_path / "f", (t, t))
    hash_tree(tmp_path, statcache=sc)
    assert len(sc) == 1


def test_parse_rejects_unsafe_or_malformed():
    ok = make_tree_object([["a", "file", 0o644, digest_bytes(b"")]])
    assert parse_tree_object(ok)[0][0] == "a"
    for rows in (
        [["../x", "file", 0o644, digest_bytes(b"")]],
        [["a/b", "file", 0o644, digest_bytes(b"")]],
        [["a", "weird", 0, "x"]],
        [["a", "file", 0o644, "not-a-digest"]],
    ):
        with pytest.raises(ValueError):
            parse_tree_object(make_tree_object(rows))
    with pytest.raises(ValueError):
        parse_tree_object(b"alebuild-tree\n{not json")
    with pytest.raises(ValueError):
        parse_tree_object(b"plain bytes")
    dup = b'alebuild-tree\n[["a","symlink",0,"x"],["a","symlink",0,"y"]]'
    with pytest.raises(ValueError):
        parse_tree_object(dup)
