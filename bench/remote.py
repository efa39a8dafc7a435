"""Remote-store throughput against the local emulators (S3: moto, GCS: gcp-storage-emulator).

Prints, per store: upload and download rate of many small blobs (bounded parallelism
through ``transfer_many``) and of one large blob (streamed, multipart/resumable).

    .venv/bin/python bench/remote.py                    # 1,000 x 4 KB, 1 x 200 MB, both stores
    .venv/bin/python bench/remote.py --stores s3 --big-mb 50 --limit 32

Uses the emulators named by ``ALEBUILD_TEST_S3_ENDPOINT`` / ``STORAGE_EMULATOR_HOST``
when set, else starts its own on free 127.0.0.1 ports. Emulator figures measure the client
and the emulator on one machine, not a cloud link: compare runs, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alebuild.cache.digest import digest_bytes, digest_stream
from alebuild.cache.remote import RemoteStore, transfer_many

ENV_ENDPOINT = {"s3": "ALEBUILD_TEST_S3_ENDPOINT", "gcs": "STORAGE_EMULATOR_HOST"}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def emulator(kind: str) -> Iterator[str]:
    """The endpoint of a running emulator: the one in the environment, or a fresh one."""
    given = os.environ.get(ENV_ENDPOINT[kind], "")
    if given:
        yield given if given.startswith("http") else "http://" + given
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bindir = Path(sys.executable).parent
    argv = (
        [str(bindir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
        if kind == "s3"
        else [
            str(bindir / "gcp-storage-emulator"),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "-q",
        ]
    )
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{kind} emulator did not start ({argv[0]})")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def open_bench_store(kind: str, endpoint: str) -> RemoteStore:
    """A store on a fresh bucket of the emulator at ``endpoint``."""
    bucket = f"bench-{os.getpid()}"
    if kind == "s3":
        import boto3

        from alebuild.stores.s3 import S3Store

        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            os.environ.setdefault(name, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=bucket
        )
        return S3Store(f"s3://{bucket}/bench", endpoint=endpoint)
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from alebuild.stores.gcs import GcsStore

    storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    ).create_bucket(bucket)
    return GcsStore(f"gs://{bucket}/bench", endpoint=endpoint)


def _rate(label: str, seconds: float, nbytes: int, count: int) -> None:
    per_blob = f"  {count / seconds:8.0f} blobs/s" if count > 1 else ""
    print(f"  {label:<22} {seconds:7.2f} s  {nbytes / 1e6 / seconds:8.1f} MB/s{per_blob}")


def bench_small(store: RemoteStore, work: Path, count: int, size: int, limit: int) -> None:
    items = []
    for i in range(count):
        data = os.urandom(size - 8) + i.to_bytes(8, "big")
        src = work / f"small-{i}"
        src.write_bytes(data)
        items.append((digest_bytes(data), src))
    t0 = time.perf_counter()
    put = asyncio.run(transfer_many(store, items, "put_blob", limit=limit))
    _rate(f"put {count} x {size // 1024} KB", time.perf_counter() - t0, count * size, count)
    gets = [(d, work / f"got-{i}") for i, (d, _) in enumerate(items)]
    t0 = time.perf_counter()
    got = asyncio.run(transfer_many(store, gets, "get_blob", limit=limit))
    _rate(f"get {count} x {size // 1024} KB", time.perf_counter() - t0, count * size, count)
    failed = [r for r in put + got if not r.ok or r.value is not True]
    if failed:
        raise SystemExit(f"{len(failed)} small transfers failed, first: {failed[0]}")


def bench_big(store: RemoteStore, work: Path, megabytes: int) -> None:
    src = work / "big"
    with open(src, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    with open(src, "rb") as f:
        digest, size = digest_stream(f)
    t0 = time.perf_counter()
    assert store.put_blob(digest, src)
    _rate(f"put 1 x {megabytes} MB", time.perf_counter() - t0, size, 1)
    dest = work / "big-back"
    t0 = time.perf_counter()
    assert store.get_blob(digest, dest)  # verified against the digest while streaming
    _rate(f"get 1 x {megabytes} MB", time.perf_counter() - t0, size, 1)


REPO = Path(__file__).resolve().parents[1]
WORKSPACE_PIECES = ("BUILD.toml", "tasks", "configs", "images", "experiments")


def _copy_workspace(dest: Path) -> Path:
    """The repo's workspace sources (never its cache/ or out/) at ``dest``."""
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for piece in WORKSPACE_PIECES:
        src = REPO / piece
        if src.is_dir():
            shutil.copytree(src, dest / piece, ignore=ignore)
        else:
            shutil.copy2(src, dest / piece)
    return dest


def _timed_build(
    ws: Path, cache: Path, url: str, env: dict[str, str], target: str
) -> tuple[float, dict]:
    """One ``alebuild`` process; (wall seconds, summary). A failed build stops the bench."""
    summary = cache.parent / f"{cache.name}.json"
    argv = [
        sys.executable,
        "-m",
        "alebuild.cli",
        "-C",
        str(ws),
        "--cache-dir",
        str(cache),
        "--remote-cache",
        url,
        "build",
        target,
        "--summary-json",
        str(summary),
        "--no-progress",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads(summary.read_text())


def _emulator_remote(kind: str, endpoint: str) -> tuple[str, dict[str, str]]:
    """A fresh bucket on the emulator: (store URL, environment the CLI needs to reach it)."""
    bucket = f"bench-noop-{os.getpid()}"
    if kind == "s3":
        import boto3

        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ALEBUILD_S3_ENDPOINT": endpoint,
        }
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        return f"s3://{bucket}/noop", env
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    ).create_bucket(bucket)
    return f"gs://{bucket}/noop", {
        "STORAGE_EMULATOR_HOST": endpoint,
        "GOOGLE_CLOUD_PROJECT": "test",
    }


def remote_cached_noop_build(
    kind: str = "file", endpoint: str | None = None, target: str = "//experiments:demo"
) -> None:
    """Time a build of ``target`` with an EMPTY local cache whose every action is a remote hit.

    A copy of the workspace is built once into a fresh remote (``file://`` dir, or a bucket
    on the emulator at ``endpoint``); then a second copy at another path with an empty cache
    is built against it (everything fetched and verified, nothing executed), and finally
    that copy again with its now-warm local cache, for comparison. Each build is one CLI
    process, so the times include interpreter start.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if kind == "file":
            store = work / "remote"
            store.mkdir()
            url, env = store.as_uri(), {}
        else:
            url, env = _emulator_remote(kind, str(endpoint))
        first = _copy_workspace(work / "machine-a")
        second = _copy_workspace(work / "machine-b")
        print(f"remote-cached no-op build of {target} ({url}):")
        rows = [
            ("populate: cold, empty remote", first, work / "cache-a"),
            ("empty local cache, remote hits", second, work / "cache-b"),
            ("warm local cache (no-op)", second, work / "cache-b"),
        ]
        for label, ws, cache in rows:
            seconds, s = _timed_build(ws, cache, url, env, target)
            print(
                f"  {label:<32} {seconds:7.2f} s  executed {len(s['executed']):4d}  "
                f"cached {len(s['cached']):4d}  sandboxes {s['sandboxes_provisioned']:4d}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="s3,gcs", help="comma-separated: s3,gcs")
    parser.add_argument("--small", type=int, default=1000, help="number of small blobs")
    parser.add_argument("--small-kb", type=int, default=4, help="size of each small blob")
    parser.add_argument("--big-mb", type=int, default=200, help="size of the large blob")
    parser.add_argument("--limit", type=int, default=16, help="transfers in flight")
    args = parser.parse_args(argv)
    for kind in args.stores.split(","):
        with emulator(kind) as endpoint, tempfile.TemporaryDirectory() as tmp:
            store = open_bench_store(kind, endpoint)
            print(f"{kind} ({endpoint}), {args.limit} in flight:")
            bench_small(store, Path(tmp), args.small, args.small_kb * 1024, args.limit)
            bench_big(store, Path(tmp), args.big_mb)
            remote_cached_noop_build(kind, endpoint)
    remote_cached_noop_build()


if __name__ == "__main__":
    main()
