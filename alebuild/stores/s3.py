"""``s3://bucket/prefix``: a remote store on Amazon S3 or an S3-compatible server (boto3).

Endpoint: ``endpoint=`` when given, else env ``ALEBUILD_S3_ENDPOINT``, else boto3's own
resolution (which honours ``AWS_ENDPOINT_URL``). Credentials come from boto3's usual
chain; with none at all, requests go unsigned (enough to read a public bucket).

Create-only writes:
- action entries (small) use ``put_object(IfNoneMatch="*")``; S3 answers 412 when the
  key exists, which closes the race between concurrent writers.
- blobs check ``head_object`` first, then upload. Large blobs go through a multipart
  transfer, which cannot carry the condition; two writers racing on one blob both write
  the same bytes (the name is their digest), so the race is harmless.

Every request is bounded (2 s connect, 30 s read, 2 attempts), and failures to reach or
use the bucket become ``RemoteError`` with a one-line message naming the URL, so a down
remote costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from alebuild.cache.digest import CHUNK_SIZE
from alebuild.cache.remote import RemoteError, RemoteStore, object_name
from alebuild.stores import parse_bucket_url

__all__ = ["S3Store"]

ENDPOINT_ENV = "ALEBUILD_S3_ENDPOINT"
# Above this size a blob is uploaded in parts: memory stays at a few parts per upload.
MULTIPART_THRESHOLD = 16 << 20
TRANSFER = TransferConfig(
    multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=16 << 20, max_concurrency=4
)
_MISSING = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"412", "PreconditionFailed", "ConditionalRequestConflict"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Store(RemoteStore):
    """A ``RemoteStore`` in an S3 bucket under an optional prefix."""

    def __init__(self, url: str, visibility: str = "public", *, endpoint: str | None = None):
        super().__init__(url, visibility)
        self.bucket, self.prefix = parse_bucket_url(url, "s3")
        self.endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
        self._bucket_seen = False
        session = boto3.session.Session()
        options: dict[str, Any] = {
            "connect_timeout": 2,
            "read_timeout": 30,
            "retries": {"max_attempts": 2, "mode": "standard"},
            "max_pool_connections": 32,
        }
        if self.endpoint:
            # S3-compatible servers (moto, MinIO) rarely serve virtual-host buckets.
            options["s3"] = {"addressing_style": "path"}
        if session.get_credentials() is None:
            options["signature_version"] = UNSIGNED
        # boto3 clients are thread-safe: one is shared by all transfer threads.
        self._s3 = session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=session.region_name or "us-east-1",
            config=Config(**options),
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate SDK and transport failures into one-line ``RemoteError``s."""
        try:
            yield
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            raise RemoteError(f"{self.url}: {_code(exc)} {message}".rstrip()) from exc
        except (BotoCoreError, OSError) as exc:
            raise RemoteError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    def _key(self, area: str, digest: str) -> str:
        return self.prefix + object_name(area, digest)

    def _exists(self, key: str) -> bool:
        with self._errors():
            try:
                self._s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise
                return not self._object_missing()
        return True

    def _object_missing(self) -> bool:
        """After a bare 404 (HEAD has no error code): True, or ``RemoteError`` if the
        bucket is missing. A bucket seen to exist is remembered."""
        if self._bucket_seen:
            return True
        with self._errors():
            try:
                self._s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) in _MISSING | {"NoSuchBucket"}:
                    raise RemoteError(f"{self.url}: bucket {self.bucket} not found") from exc
                if _code(exc) not in {"403", "AccessDenied"}:
                    raise  # 403: may read objects without bucket rights
        self._bucket_seen = True
        return True

    def _put_if_absent(self, key: str, body: BinaryIO) -> bool:
        with self._errors():
            try:
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            except ClientError as exc:
                if _code(exc) in _EXISTS:
                    return False
                raise
        return True

    # -- RemoteStore ------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        return self._exists(self._key("cas", digest))

    def get_blob(self, digest: str, dest: Path) -> bool:
        key = self._key("cas", digest)

        def fill(writer: BinaryIO) -> bool:
            with self._errors():
                try:
                    body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
                except ClientError as exc:
                    if _code(exc) in _MISSING:
                        return False
                    raise
                with contextlib.closing(body):
                    for chunk in body.iter_chunks(CHUNK_SIZE):
                        writer.write(chunk)
            return True

        return self._receive(digest, dest, fill)

    def put_blob(self, digest: str, src: Path) -> bool:
        key = self._key("cas", digest)
        if self._exists(key):
            return False
        with open(src, "rb") as f:
            if os.fstat(f.fileno()).st_size < MULTIPART_THRESHOLD:
                return self._put_if_absent(key, f)
            with self._errors():
                self._s3.upload_fileobj(f, self.bucket, key, Config=TRANSFER)
        return True

    def get_action(self, key: str) -> bytes | None:
        with self._errors():
            try:
                response = self._s3.get_object(Bucket=self.bucket, Key=self._key("ac", key))
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            return response["Body"].read()

    def put_action(self, key: str, data: bytes) -> bool:
        return self._put_if_absent(self._key("ac", key), io.BytesIO(data))

    def _list(self, area: str) -> Iterator[dict[str, Any]]:
        start = self.prefix + area + "/"
        with self._errors():
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            ):
                yield from page.get("Contents", [])

    def _digest_of(self, key: str, area: str) -> str:
        algo, _, hexpart = key[len(self.prefix) + len(area) + 1 :].partition("/")
        return f"{algo}:{hexpart}"

    def list_blobs(self) -> Iterator[tuple[str, int, float]]:
        for obj in self._list("cas"):
            modified = obj["LastModified"].timestamp()
            yield self._digest_of(obj["Key"], "cas"), int(obj["Size"]), modified

    def delete_blob(self, digest: str) -> None:
        with self._errors():
            self._s3.delete_object(Bucket=self.bucket, Key=self._key("cas", digest))

    def delete_action(self, key: str) -> None:
        with self._errors():
            self._s3.delete_object(Bucket=self.bucket, Key=self._key("ac", key))

    def list_actions(self) -> Iterator[str]:
        for obj in self._list("ac"):
            yield self._digest_of(obj["Key"], "ac")
