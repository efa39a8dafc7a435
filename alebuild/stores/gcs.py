"""``gs://bucket/prefix``: a remote store on Google Cloud Storage (google-cloud-storage).

Endpoint: ``endpoint=`` when given, else ``STORAGE_EMULATOR_HOST`` (which the library
honours; credentials are then anonymous), else Google's. Without default credentials
the store falls back to anonymous access, enough to read a public bucket.

Create-only writes use ``if_generation_match=0`` (GCS rejects the write if the object
exists). The GCS emulator ignores that precondition, so a write is preceded by an
existence check: against real GCS the precondition still closes the race between them.

Every failure to reach or use the bucket (connection, timeout, 401/403, missing bucket)
becomes ``RemoteError`` with a one-line message naming the URL. Requests are bounded:
2 s to connect, 30 s to read, transient errors retried for at most 10 s, a refused
connection not retried at all, so a down remote costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import google.auth
import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage
from google.cloud.storage.retry import _should_retry
from google.resumable_media.common import InvalidResponse
from urllib3.exceptions import NewConnectionError

from alebuild.cache.remote import RemoteError, RemoteStore, object_name
from alebuild.stores import parse_bucket_url

__all__ = ["GcsStore"]

TIMEOUT = (2.0, 30.0)  # (connect, read) seconds


def _retryable(exc: Exception) -> bool:
    """The library's transient errors, except a refused or unresolvable connection: a
    remote that is down fails at once instead of being retried."""
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)
        if isinstance(reason, NewConnectionError):
            return False
    return _should_retry(exc)


def _brief(exc: BaseException) -> str:
    """``ConnectTimeout`` or ``ConnectionError: [Errno 111] Connection refused``: the
    transport error without urllib3's wrapping."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    detail = str(reason).rsplit(": ", 1)[-1] if reason is not None else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


# Overloaded or flaky remotes (timeouts, 429, 5xx) get retries for up to 10 s in total.
RETRY = Retry(predicate=_retryable, initial=0.2, maximum=2.0, multiplier=2.0, timeout=10.0)
# Resumable uploads send this much per request; the library default (100 MiB) would buffer
# that much per concurrent upload. Must be a multiple of 256 KiB.
UPLOAD_CHUNK = 8 << 20


class GcsStore(RemoteStore):
    """A ``RemoteStore`` in a GCS bucket under an optional prefix."""

    def __init__(self, url: str, visibility: str = "public", *, endpoint: str | None = None):
        super().__init__(url, visibility)
        self.bucket_name, self.prefix = parse_bucket_url(url, "gs")
        self.endpoint = endpoint
        self._local = threading.local()  # one client per thread: clients are not shared
        self._credentials: tuple[object, str | None] | None = None
        self._lock = threading.Lock()
        self._bucket_seen = False

    # -- plumbing ---------------------------------------------------------------------

    def _client(self) -> storage.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client()
        return client

    def _new_client(self) -> storage.Client:
        with self._errors():
            if self.endpoint or os.environ.get("STORAGE_EMULATOR_HOST"):
                options = {"api_endpoint": self.endpoint} if self.endpoint else None
                return storage.Client(
                    project=os.environ.get("GOOGLE_CLOUD_PROJECT", "test"),
                    credentials=AnonymousCredentials(),
                    client_options=options,
                )
            with self._lock:
                if self._credentials is None:
                    try:
                        self._credentials = google.auth.default()
                    except GoogleAuthError:
                        self._credentials = (AnonymousCredentials(), "<none>")
            credentials, project = self._credentials
            return storage.Client(project=project, credentials=credentials)

    def _blob(self, name: str) -> storage.Blob:
        return self._client().bucket(self.bucket_name).blob(self.prefix + name)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate SDK and transport failures into one-line ``RemoteError``s."""
        try:
            yield
        except RemoteError:
            raise
        except gexc.GoogleAPICallError as exc:
            raise RemoteError(f"{self.url}: {exc.code} {exc.message}") from exc
        except gexc.RetryError as exc:
            cause = exc.cause if exc.cause is not None else exc
            raise RemoteError(f"{self.url}: unreachable ({_brief(cause)})") from exc
        except requests.RequestException as exc:
            raise RemoteError(f"{self.url}: unreachable ({_brief(exc)})") from exc
        except (GoogleAuthError, InvalidResponse, OSError) as exc:
            raise RemoteError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    def _object_missing(self) -> bool:
        """After a 404 on an object: True, or ``RemoteError`` when the bucket is missing.

        GCS answers 404 for both, so the bucket is checked once; a bucket seen to exist is
        remembered, a missing one is asked about again (it may be created meanwhile).
        """
        if self._bucket_seen:
            return True
        with self._errors():
            try:
                found = self._client().bucket(self.bucket_name).exists(timeout=TIMEOUT, retry=RETRY)
            except gexc.Forbidden:
                found = True  # may read objects without bucket metadata rights
        if not found:
            raise RemoteError(f"{self.url}: bucket {self.bucket_name} not found")
        self._bucket_seen = True
        return True

    def _exists(self, name: str) -> bool:
        with self._errors():
            found = self._blob(name).exists(timeout=TIMEOUT, retry=RETRY)
        return found or not self._object_missing()

    def _create(self, name: str, src: BinaryIO, size: int) -> bool:
        if self._exists(name):
            return False
        blob = self._blob(name)
        blob.chunk_size = UPLOAD_CHUNK
        with self._errors():
            try:
                blob.upload_from_file(
                    src,
                    size=size,
                    if_generation_match=0,
                    checksum=None,
                    timeout=TIMEOUT,
                    retry=RETRY,
                )
            except gexc.PreconditionFailed:
                return False
        return True

    # -- RemoteStore ------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        return self._exists(object_name("cas", digest))

    def get_blob(self, digest: str, dest: Path) -> bool:
        blob = self._blob(object_name("cas", digest))

        def fill(writer: BinaryIO) -> bool:
            with self._errors():
                try:
                    # Raw bytes, no library checksum: _receive verifies the digest itself.
                    blob.download_to_file(
                        writer, raw_download=True, checksum=None, timeout=TIMEOUT, retry=RETRY
                    )
                except gexc.NotFound:
                    return not self._object_missing()
            return True

        return self._receive(digest, dest, fill)

    def put_blob(self, digest: str, src: Path) -> bool:
        with open(src, "rb") as f:
            return self._create(object_name("cas", digest), f, os.fstat(f.fileno()).st_size)

    def get_action(self, key: str) -> bytes | None:
        with self._errors():
            try:
                return self._blob(object_name("ac", key)).download_as_bytes(
                    raw_download=True, checksum=None, timeout=TIMEOUT, retry=RETRY
                )
            except gexc.NotFound:
                self._object_missing()
                return None

    def put_action(self, key: str, data: bytes) -> bool:
        return self._create(object_name("ac", key), io.BytesIO(data), len(data))

    def _list(self, area: str) -> Iterator[storage.Blob]:
        with self._errors():
            yield from self._client().list_blobs(
                self.bucket_name, prefix=f"{self.prefix}{area}/", timeout=TIMEOUT, retry=RETRY
            )

    def _digest_of(self, name: str, area: str) -> str:
        algo, _, hexpart = name[len(self.prefix) + len(area) + 1 :].partition("/")
        return f"{algo}:{hexpart}"

    def list_blobs(self) -> Iterator[tuple[str, int, float]]:
        for blob in self._list("cas"):
            updated = blob.updated.timestamp() if blob.updated else 0.0
            yield self._digest_of(blob.name, "cas"), int(blob.size or 0), updated

    def _delete(self, area: str, digest: str) -> None:
        with self._errors():
            try:
                self._blob(object_name(area, digest)).delete(timeout=TIMEOUT, retry=RETRY)
            except gexc.NotFound:
                self._object_missing()

    def delete_blob(self, digest: str) -> None:
        self._delete("cas", digest)

    def delete_action(self, key: str) -> None:
        self._delete("ac", key)

    def list_actions(self) -> Iterator[str]:
        for blob in self._list("ac"):
            yield self._digest_of(blob.name, "ac")
