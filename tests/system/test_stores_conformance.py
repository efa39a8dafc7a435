"""One conformance suite over every cloud store: S3 (moto) and GCS (gcp-storage-emulator).

The same checks as the file:// unit tests, against real SDKs talking HTTP to emulators:
create-only writes, verified streamed downloads, corruption, listing, and a down remote
turning into a prompt ``RemoteError``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from alebuild.cache.digest import digest_bytes, digest_stream
from alebuild.cache.remote import (
    RemoteCorrupt,
    RemoteError,
    RemoteStore,
    object_name,
    transfer_many,
)

pytestmark = pytest.mark.system

_bucket_ids = itertools.count()


@dataclass
class Backend:
    """A store under test plus raw SDK access to its bucket (to create and tamper)."""

    kind: str
    endpoint: str
    bucket: str
    store: RemoteStore
    write_raw: Callable[[str, bytes], None]
    create_bucket: Callable[[], None]


def _s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _gcs_client(endpoint: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def make_backend(kind: str, endpoint: str, *, create: bool = True) -> Backend:
    """A fresh bucket (unless ``create`` is False) and a store on ``bucket/team/cache``."""
    bucket = f"alebuild-{os.getpid()}-{next(_bucket_ids)}"
    url = f"{'s3' if kind == 's3' else 'gs'}://{bucket}/team/cache"
    if kind == "s3":
        from alebuild.stores.s3 import S3Store

        client = _s3_client(endpoint)

        def create_bucket() -> None:
            client.create_bucket(Bucket=bucket)

        store: RemoteStore = S3Store(url, endpoint=endpoint)

        def write_raw(name: str, data: bytes) -> None:
            client.put_object(Bucket=bucket, Key=name, Body=data)
    else:
        from alebuild.stores.gcs import GcsStore

        gcs = _gcs_client(endpoint)

        def create_bucket() -> None:
            gcs.create_bucket(bucket)

        store = GcsStore(url, endpoint=endpoint)

        def write_raw(name: str, data: bytes) -> None:
            gcs.bucket(bucket).blob(name).upload_from_string(data)

    if create:
        create_bucket()
    return Backend(kind, endpoint, bucket, store, write_raw, create_bucket)


@pytest.fixture(params=["s3", "gcs"])
def backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    return make_backend(kind, request.getfixturevalue(f"{kind}_endpoint"))


def _src(tmp_path: Path, data: bytes, name: str = "src") -> tuple[str, Path]:
    path = tmp_path / name
    path.write_bytes(data)
    return digest_bytes(data), path


def test_put_has_get_blob(backend: Backend, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"conformance blob")
    store = backend.store
    assert store.has_blob(digest) is False
    assert store.put_blob(digest, src) is True
    assert store.has_blob(digest) is True
    dest = tmp_path / "out" / "dest"
    assert store.get_blob(digest, dest) is True
    assert dest.read_bytes() == b"conformance blob"


def test_missing_blob_and_action(backend: Backend, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert backend.store.get_blob(digest_bytes(b"never stored"), dest) is False
    assert not dest.exists()
    assert backend.store.get_action(digest_bytes(b"no key")) is None


def test_put_blob_is_create_only(backend: Backend, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"first bytes")
    assert backend.store.put_blob(digest, src) is True
    src.write_bytes(b"other bytes")
    assert backend.store.put_blob(digest, src) is False
    dest = tmp_path / "dest"
    assert backend.store.get_blob(digest, dest) is True
    assert dest.read_bytes() == b"first bytes"


def test_put_action_is_create_only(backend: Backend) -> None:
    key = digest_bytes(b"keyfile")
    assert backend.store.put_action(key, b'{"outcome": "ok"}') is True
    assert backend.store.put_action(key, b'{"outcome": "changed"}') is False
    assert backend.store.get_action(key) == b'{"outcome": "ok"}'


def test_layout_listing_and_delete(backend: Backend, tmp_path: Path) -> None:
    blobs = {}
    for i in range(3):
        digest, src = _src(tmp_path, b"x" * (i + 1), f"s{i}")
        backend.store.put_blob(digest, src)
        blobs[digest] = i + 1
    key = digest_bytes(b"k")
    backend.store.put_action(key, b"{}")
    assert {d: size for d, size, _ in backend.store.list_blobs()} == blobs
    assert all(updated > 0 for _, _, updated in backend.store.list_blobs())
    assert list(backend.store.list_actions()) == [key]
    # The documented layout under the URL prefix: cas/<algo>/<hex>.
    first = next(iter(blobs))
    backend.write_raw("team/cache/" + object_name("cas", first), b"x")  # overwrite, same bytes
    assert backend.store.get_blob(first, tmp_path / "d") is True
    backend.store.delete_blob(first)
    backend.store.delete_blob(first)
    assert backend.store.has_blob(first) is False
    assert {d for d, _, _ in backend.store.list_blobs()} == set(blobs) - {first}


def test_large_blob_round_trip_streamed(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    with open(src, "rb") as f:
        digest, size = digest_stream(f)
    assert size == 50 << 20
    assert backend.store.put_blob(digest, src) is True
    assert backend.store.put_blob(digest, src) is False
    dest = tmp_path / "back"
    assert backend.store.get_blob(digest, dest) is True
    with open(dest, "rb") as f:
        assert digest_stream(f) == (digest, size)


def test_corrupt_object_raises_and_leaves_no_file(backend: Backend, tmp_path: Path) -> None:
    digest, src = _src(tmp_path, b"honest bytes")
    backend.store.put_blob(digest, src)
    backend.write_raw("team/cache/" + object_name("cas", digest), b"tampered bytes")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RemoteCorrupt):
        backend.store.get_blob(digest, out / "dest")
    assert list(out.iterdir()) == []


async def test_parallel_transfers(backend: Backend, tmp_path: Path) -> None:
    items = [_src(tmp_path, f"small {i}".encode(), f"s{i}") for i in range(40)]
    put = await transfer_many(backend.store, items, "put_blob", limit=8)
    assert [r.value for r in put] == [True] * len(items)
    gets = [(d, tmp_path / "got" / f"g{i}") for i, (d, _) in enumerate(items)]
    got = await transfer_many(backend.store, gets, "get_blob", limit=8)
    assert [r.value for r in got] == [True] * len(items)
    assert [p.read_bytes() for _, p in gets] == [s.read_bytes() for _, s in items]


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_missing_bucket_is_remote_error(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = make_backend(kind, request.getfixturevalue(f"{kind}_endpoint"), create=False)
    digest, src = _src(tmp_path, b"nowhere to go")
    store = backend.store
    # A missing bucket is a broken remote, never "object absent".
    for call in (
        lambda: store.put_blob(digest, src),
        lambda: store.put_action(digest, b"{}"),
        lambda: store.has_blob(digest),
        lambda: store.get_blob(digest, tmp_path / "dest"),
        lambda: store.get_action(digest),
    ):
        with pytest.raises(RemoteError, match=backend.bucket):
            call()


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_stopped_remote_is_remote_error(kind: str, emulator_factory, tmp_path: Path) -> None:
    emulator = emulator_factory(kind)
    backend = make_backend(kind, emulator.url)
    digest, src = _src(tmp_path, b"before the outage")
    assert backend.store.put_blob(digest, src) is True

    emulator.stop()
    for call in (
        lambda: backend.store.has_blob(digest),
        lambda: backend.store.get_blob(digest, tmp_path / "dest"),
        lambda: backend.store.put_blob(digest, src),
        lambda: backend.store.get_action(digest),
        lambda: list(backend.store.list_blobs()),
    ):
        with pytest.raises(RemoteError, match=backend.bucket):
            call()
    assert not (tmp_path / "dest").exists()

    # The same store object recovers once the remote is back (emulators restart empty).
    emulator.start()
    backend.create_bucket()
    assert backend.store.put_action(digest, b"{}") is True
    assert backend.store.get_action(digest) == b"{}"
