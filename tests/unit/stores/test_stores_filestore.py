"""FileStore (file://) semantics: the contract every remote store follows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alebuild.cache.digest import digest_bytes
from alebuild.cache.remote import (
    FileStore,
    RemoteCorrupt,
    RemoteError,
    RemoteStore,
    object_name,
    open_store,
)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore((tmp_path / "remote").as_uri())


def _src(tmp_path: Path, data: bytes, name: str = "src") -> tuple[str, Path]:
    path = tmp_path / name
    path.write_bytes(data)
    return digest_bytes(data), path


def test_layout_replaces_colon_with_slash() -> None:
    d = digest_bytes(b"x")
    assert object_name("cas", d) == "cas/xxh128/" + d.split(":")[1]
    with pytest.raises(ValueError):
        object_name("cas", "xxh128:../../etc")


def test_put_has_get_round_trip(store: FileStore, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"hello blob")
    assert not store.has_blob(digest)
    assert store.put_blob(digest, src) is True
    assert store.has_blob(digest)
    assert (store.root / object_name("cas", digest)).read_bytes() == b"hello blob"
    dest = tmp_path / "out" / "got"
    assert store.get_blob(digest, dest) is True
    assert dest.read_bytes() == b"hello blob"


def test_put_blob_is_create_only(store: FileStore, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"first")
    assert store.put_blob(digest, src) is True
    src.write_bytes(b"second")  # same name, other bytes: must not replace the first
    assert store.put_blob(digest, src) is False
    dest = tmp_path / "dest"
    assert store.get_blob(digest, dest) is True
    assert dest.read_bytes() == b"first"


def test_missing_blob_is_false_and_writes_nothing(store: FileStore, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert store.get_blob(digest_bytes(b"absent"), dest) is False
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_corrupt_blob_raises_and_leaves_no_file(store: FileStore, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"good bytes")
    store.put_blob(digest, src)
    (store.root / object_name("cas", digest)).write_bytes(b"evil bytes")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RemoteCorrupt) as info:
        store.get_blob(digest, out / "dest")
    assert digest in str(info.value)
    assert list(out.iterdir()) == []  # neither dest nor a temp file
    assert isinstance(info.value, RemoteError)


def test_corrupt_blob_keeps_existing_dest(store: FileStore, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"good")
    store.put_blob(digest, src)
    (store.root / object_name("cas", digest)).write_bytes(b"bad")
    dest = tmp_path / "dest"
    dest.write_bytes(b"previous")
    with pytest.raises(RemoteCorrupt):
        store.get_blob(digest, dest)
    assert dest.read_bytes() == b"previous"


def test_sha256_digests_are_verified_too(store: FileStore, tmp_path: Path) -> None:
    data = b"shared with strangers"
    src = tmp_path / "s"
    src.write_bytes(data)
    digest = digest_bytes(data, "sha256")
    assert store.put_blob(digest, src)
    assert store.get_blob(digest, tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == data


def test_actions_are_create_only(store: FileStore) -> None:
    key = digest_bytes(b"keyfile")
    assert store.get_action(key) is None
    assert store.put_action(key, b'{"outcome": "ok"}') is True
    assert store.put_action(key, b'{"outcome": "other"}') is False
    assert store.get_action(key) == b'{"outcome": "ok"}'


def test_listing_and_delete(store: FileStore, tmp_path: Path) -> None:
    digests = {}
    for i, data in enumerate([b"a", b"bb", b"ccc"]):
        d, src = _src(tmp_path, data, f"s{i}")
        store.put_blob(d, src)
        digests[d] = len(data)
    key = digest_bytes(b"k")
    store.put_action(key, b"{}")
    listed = {d: size for d, size, _ in store.list_blobs()}
    assert listed == digests
    assert all(mtime > 0 for _, _, mtime in store.list_blobs())
    assert list(store.list_actions()) == [key]
    gone = next(iter(digests))
    store.delete_blob(gone)
    store.delete_blob(gone)  # deleting a missing blob is not an error
    assert not store.has_blob(gone)
    assert {d for d, _, _ in store.list_blobs()} == set(digests) - {gone}


def test_unwritable_root_is_remote_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = FileStore(blocker.as_uri())  # root is a file: nothing can be created below
    digest, src = _src(tmp_path, b"x")
    with pytest.raises(RemoteError):
        store.put_blob(digest, src)


def test_open_store_dispatch(tmp_path: Path) -> None:
    store = open_store((tmp_path / "r").as_uri(), visibility="private")
    assert isinstance(store, FileStore) and store.visibility == "private"
    registry = {"mem": f"{__name__}:_FakeStore"}
    fake = open_store("mem://bucket/x", registry=registry)
    assert isinstance(fake, _FakeStore) and fake.url == "mem://bucket/x"


def test_open_store_rejects_unknown_scheme_and_visibility(tmp_path: Path) -> None:
    from alebuild.core.errors import UserError

    with pytest.raises(UserError, match="nosuch"):
        open_store("nosuch://b/p", registry={})
    with pytest.raises(UserError, match="needs"):
        open_store("mem://b", registry={"mem": "alebuild_no_such_module:X"})
    with pytest.raises(ValueError):
        open_store(tmp_path.as_uri(), visibility="secret")


def test_temp_files_do_not_linger_after_put(store: FileStore, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"y")
    store.put_blob(digest, src)
    store.put_blob(digest, src)
    leftovers = [n for _, _, files in os.walk(store.root) for n in files if n.startswith(".")]
    assert leftovers == []


class _FakeStore(RemoteStore):
    def has_blob(self, digest):
        return False

    def get_blob(self, digest, dest):
        return False

    def put_blob(self, digest, src):
        return True

    def get_action(self, key):
        return None

    def put_action(self, key, data):
        return True

    def list_blobs(self):
        return iter(())

    def delete_blob(self, digest):
        return None

    def list_actions(self):
        return iter(())

    def delete_action(self, key):
        return None
