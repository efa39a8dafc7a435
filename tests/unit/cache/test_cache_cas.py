from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from alebuild.cache.cas import CorruptBlobError, LocalCAS, MissingBlobError
from alebuild.cache.digest import digest_bytes
from alebuild.cache.tree import hash_tree, parse_tree_object


@pytest.fixture
def cas(tmp_path) -> LocalCAS:
    return LocalCAS(tmp_path / "cas")


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_layout_and_roundtrip(cas):
    d = cas.put_bytes(b"hello")
    assert d == digest_bytes(b"hello")
    hexpart = d.split(":")[1]
    assert cas.path_of(d) == cas.root / "xxh128" / hexpart[:2] / hexpart[2:]
    assert cas.has(d) and cas.read_bytes(d) == b"hello"
    assert not cas.is_tree(d)


def test_sha256_and_xxh128_coexist(tmp_path):
    x = LocalCAS(tmp_path / "c")
    s = LocalCAS(tmp_path / "c", algo="sha256")
    dx, ds = x.put_bytes(b"same"), s.put_bytes(b"same")
    assert dx.startswith("xxh128:") and ds.startswith("sha256:")
    assert {d for d, _, _ in x.iter_blobs()} == {dx, ds}
    assert x.read_bytes(ds) == b"same"


def test_missing_blob(cas):
    d = digest_bytes(b"never stored")
    assert not cas.has(d)
    with pytest.raises(MissingBlobError):
        cas.read_bytes(d)
    with pytest.raises(KeyError):
        cas.copy_to(d, cas.root.parent / "out")


def test_corrupt_blob_is_evicted_on_read(cas):
    d = cas.put_bytes(b"precious bytes")
    _flip(cas.path_of(d))
    with pytest.raises(CorruptBlobError) as exc:
        cas.read_bytes(d)
    assert exc.value.digest == d
    assert not cas.path_of(d).exists()


def test_corrupt_blob_is_evicted_on_copy(cas, tmp_path):
    d = cas.put_bytes(b"precious bytes")
    _flip(cas.path_of(d))
    dest = tmp_path / "out" / "file"
    with pytest.raises(CorruptBlobError):
        cas.copy_to(d, dest)
    assert not cas.has(d)
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []  # no temp left behind


def test_put_file_and_digest_check(cas, tmp_path):
    src = tmp_path / "src.bin"
    payload = os.urandom(3 * (1 << 20) + 7)
    src.write_bytes(payload)
    d = cas.put_file(src)
    assert d == digest_bytes(payload)
    assert cas.read_bytes(d) == payload
    src.write_bytes(b"other")
    with pytest.raises(ValueError):
        cas.put_file(src, digest_bytes(b"something else"))
    assert not cas.has(digest_bytes(b"other"))  # nothing stored on mismatch
    assert not any((cas.root / "tmp").iterdir())


def test_existing_blob_not_rewritten(cas, tmp_path):
    d = cas.put_bytes(b"v")
    ino = os.stat(cas.path_of(d)).st_ino
    src = tmp_path / "same"
    src.write_bytes(b"v")
    assert cas.put_file(src) == d
    assert cas.put_bytes(b"v") == d
    assert os.stat(cas.path_of(d)).st_ino == ino


def test_temp_files_never_listed_as_blobs(cas):
    d = cas.put_bytes(b"done")
    (cas.root / "tmp").mkdir(exist_ok=True)
    (cas.root / "tmp" / ".tmp-inflight").write_bytes(b"partial")
    hexpart = d.split(":")[1]
    (cas.root / "xxh128" / hexpart[:2] / ".tmp-stray").write_bytes(b"partial")
    assert [b[0] for b in cas.iter_blobs()] == [d]
    assert cas.total_size() == 4


def _workspace(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "x.txt").write_text("deep\n")
    (root / "tool.sh").write_text("#!/bin/sh\n")
    (root / "tool.sh").chmod(0o755)
    (root / "data").write_text("data\n")
    (root / "data").chmod(0o600)
    os.symlink("/etc/passwd", root / "pw")
    (root / "emptydir").mkdir()


def test_put_tree_materialize_roundtrip_exec(cas, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _workspace(src)
    d = cas.put_tree(src)
    assert cas.is_tree(d) and cas.has_all(d)
    out = tmp_path / "out" / "restored"
    cas.materialize(d, out)
    assert (out / "sub" / "deeper" / "x.txt").read_text() == "deep\n"
    assert stat.S_IMODE(os.stat(out / "tool.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out / "data").st_mode) == 0o644
    assert os.path.islink(out / "pw") and os.readlink(out / "pw") == "/etc/passwd"
    assert (out / "emptydir").is_dir()
    assert hash_tree(out).digest == d


def test_put_tree_full_modes_roundtrip(cas, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _workspace(src)
    (src / "sub").chmod(0o750)
    d = cas.put_tree(src, modes="full")
    out = tmp_path / "out"
    cas.materialize(d, out)
    assert stat.S_IMODE(os.stat(out / "data").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "sub").st_mode) == 0o750
    assert hash_tree(out, modes="full").digest == d


def test_symlink_tree_holds_target_string_not_file_bytes(cas, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink("/etc/passwd", src / "pw")
    d = cas.put_tree(src)
    assert parse_tree_object(cas.read_bytes(d)) == [("pw", "symlink", 0, "/etc/passwd")]
    passwd_digest = digest_bytes(Path("/etc/passwd").read_bytes())
    assert not cas.has(passwd_digest)


def test_materialize_plain_blob_as_file(cas, tmp_path):
    d = cas.put_bytes(b"just a file")
    cas.materialize(d, tmp_path / "a" / "b.txt")
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"just a file"


def test_has_all_sees_missing_member(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("member")
    cas = LocalCAS(tmp_path / "cas")
    d = cas.put_tree(src)
    assert cas.has_all(d)
    fresh = LocalCAS(tmp_path / "cas")  # no memo
    os.unlink(fresh.path_of(digest_bytes(b"member")))
    assert fresh.has(d) and not fresh.has_all(d)
    cas.delete(digest_bytes(b"member"))  # the instance that memoised forgets on delete
    assert not cas.has_all(d)
    assert not cas.has_all(digest_bytes(b"absent"))


def test_has_all_memo_avoids_rereading(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    cas = LocalCAS(tmp_path / "cas")
    d = cas.put_tree(src)
    cas._complete.clear()
    assert cas.has_all(d)
    monkeypatch.setattr(cas, "read_bytes", lambda _d: pytest.fail("tree re-read"))
    assert cas.has_all(d)


def test_verify_all_evicts_corrupt(cas):
    good = cas.put_bytes(b"good")
    bad = cas.put_bytes(b"bad!")
    _flip(cas.path_of(bad))
    report = cas.verify_all()
    assert report.checked == 2 and report.corrupt == [bad] and report.bytes == 8
    assert cas.has(good) and not cas.has(bad)


def test_touch_updates_mtime(cas):
    d = cas.put_bytes(b"lru")
    os.utime(cas.path_of(d), (1000, 1000))
    assert [m for _, _, m in cas.iter_blobs()] == [1000]
    assert cas.touch(d)
    assert [m for _, _, m in cas.iter_blobs()][0] > 1000
    assert not cas.touch(digest_bytes(b"nope"))
