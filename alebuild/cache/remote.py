"""Remote cache stores: the small abstract base, a ``file://`` store, and parallel transfers.

A remote store holds blobs and action entries under a URL prefix, laid out as
``cas/<algo>/<hex>`` and ``ac/<algo>/<hex>`` (the digest with ``:`` replaced by ``/``).
Writes are create-only: a second write of the same name returns ``False`` and leaves the
first in place. Reads of blobs are verified against the digest while streaming.

Errors, by meaning: ``RemoteError`` means the store is unreachable or refused us; callers
warn once and keep building locally (a down remote never fails a build).
``RemoteCorrupt`` means downloaded bytes do not match their digest; nothing was written to
the destination.

Cloud stores (``gs://``, ``s3://``) live outside the engine and are found by scheme in
the ``alebuild.stores`` entry-point group, so the engine imports no cloud SDK.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from alebuild.cache.digest import CHUNK_SIZE, new_hasher, parse_digest
from alebuild.core.errors import UserError

__all__ = [
    "STORE_ENTRY_POINT_GROUP",
    "VISIBILITIES",
    "RemoteError",
    "RemoteCorrupt",
    "RemoteStore",
    "FileStore",
    "TransferResult",
    "open_store",
    "object_name",
    "transfer_many",
]

STORE_ENTRY_POINT_GROUP = "alebuild.stores"
VISIBILITIES = ("public", "private")


class RemoteError(Exception):
    """The store is unreachable, denied us, or misbehaved: warn once, continue locally."""


class RemoteCorrupt(RemoteError):
    """Downloaded bytes do not match the digest they were stored under."""


def object_name(area: str, digest: str) -> str:
    """``cas/xxh128/ab12...`` for area ``cas`` (or ``ac``); ``ValueError`` on a bad digest."""
    algo, hexpart = parse_digest(digest)
    return f"{area}/{algo}/{hexpart}"


class RemoteStore(ABC):
    """A remote blob + action store at ``url``.

    Only stores whose ``visibility`` is ``private`` may receive private blobs; the caller
    enforces that, the store just carries the mark. Every method may raise ``RemoteError``.
    """

    def __init__(self, url: str, visibility: str = "public") -> None:
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
        self.url = url
        self.visibility = visibility

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, visibility={self.visibility!r})"

    @abstractmethod
    def has_blob(self, digest: str) -> bool:
        """True when the blob is stored (its bytes are not checked)."""

    @abstractmethod
    def get_blob(self, digest: str, dest: Path) -> bool:
        """Stream the blob into ``dest``; False if missing, ``RemoteCorrupt`` on mismatch."""

    @abstractmethod
    def put_blob(self, digest: str, src: Path) -> bool:
        """Upload ``src`` as ``digest`` (streamed); False if it already existed."""

    @abstractmethod
    def get_action(self, key: str) -> bytes | None:
        """The action entry stored under ``key``, or None."""

    @abstractmethod
    def put_action(self, key: str, data: bytes) -> bool:
        """Store an action entry, create-only; False if one already existed."""

    @abstractmethod
    def list_blobs(self) -> Iterator[tuple[str, int, float]]:
        """Every stored blob as ``(digest, size, updated epoch seconds)``."""

    @abstractmethod
    def delete_blob(self, digest: str) -> None:
        """Remove the blob; a missing blob is not an error."""

    @abstractmethod
    def list_actions(self) -> Iterator[str]:
        """Every stored action key."""

    @abstractmethod
    def delete_action(self, key: str) -> None:
        """Remove an action entry (one whose blobs are gone); a missing one is not an error."""

    def _receive(self, digest: str, dest: Path, fill: Callable[[BinaryIO], bool]) -> bool:
        """Run ``fill(writer)`` into a temp file beside ``dest``, verify, rename into place.

        ``fill`` writes the object's bytes (returning False when it is missing). The bytes
        are hashed as they pass, so a large blob is never held in memory or read twice.
        """
        algo, expected = parse_digest(digest)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".remote-", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as raw:
                writer = _HashingWriter(raw, new_hasher(algo))
                found = fill(writer)
            if found and writer.hexdigest() != expected:
                raise RemoteCorrupt(
                    f"{self.url}: blob {digest} arrived as {algo}:{writer.hexdigest()}"
                )
            if found:
                os.replace(tmp, dest)
            return found
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class _HashingWriter:
    """A binary file wrapper that hashes what is written through it."""

    def __init__(self, raw: BinaryIO, hasher: Any) -> None:
        self._raw = raw
        self._hasher = hasher

    def write(self, data: bytes) -> int:
        self._hasher.update(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()


class FileStore(RemoteStore):
    """A remote store in a local directory (``file:///path``): tests and shared mounts.

    Create-only by publishing a finished temp file with ``os.link``, which fails if the
    name exists, so concurrent writers never see a partial or replaced object.
    """

    def __init__(self, url: str, visibility: str = "public") -> None:
        super().__init__(url, visibility)
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"not a local file:// URL: {url!r}")
        self.root = Path(unquote(parts.path))

    def _path(self, area: str, digest: str) -> Path:
        return self.root / object_name(area, digest)

    def _publish(self, path: Path, write: Callable[[BinaryIO], None]) -> bool:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                return False
            fd, tmp = tempfile.mkstemp(prefix=".put-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    write(f)
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise RemoteError(f"{self.url}: {exc}") from exc

    def has_blob(self, digest: str) -> bool:
        return self._path("cas", digest).is_file()

    def get_blob(self, digest: str, dest: Path) -> bool:
        src = self._path("cas", digest)

        def fill(writer: BinaryIO) -> bool:
            try:
                f = open(src, "rb")
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise RemoteError(f"{self.url}: {exc}") from exc
            with f:
                while chunk := f.read(CHUNK_SIZE):
                    writer.write(chunk)
            return True

        return self._receive(digest, dest, fill)

    def put_blob(self, digest: str, src: Path) -> bool:
        def write(f: BinaryIO) -> None:
            with open(src, "rb") as s:
                while chunk := s.read(CHUNK_SIZE):
                    f.write(chunk)

        return self._publish(self._path("cas", digest), write)

    def get_action(self, key: str) -> bytes | None:
        try:
            return self._path("ac", key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RemoteError(f"{self.url}: {exc}") from exc

    def put_action(self, key: str, data: bytes) -> bool:
        return self._publish(self._path("ac", key), lambda f: f.write(data))

    def _walk(self, area: str) -> Iterator[tuple[str, Path]]:
        base = self.root / area
        if not base.is_dir():
            return
        for algo_dir in sorted(base.iterdir()):
            for path in sorted(algo_dir.iterdir()):
                if not path.name.startswith("."):  # skip in-flight temp files
                    yield f"{algo_dir.name}:{path.name}", path

    def list_blobs(self) -> Iterator[tuple[str, int, float]]:
        for digest, path in self._walk("cas"):
            st = path.stat()
            yield digest, st.st_size, st.st_mtime

    def delete_blob(self, digest: str) -> None:
        self._path("cas", digest).unlink(missing_ok=True)

    def list_actions(self) -> Iterator[str]:
        for key, _ in self._walk("ac"):
            yield key

    def delete_action(self, key: str) -> None:
        self._path("ac", key).unlink(missing_ok=True)


def _load_store_class(scheme: str, registry: Mapping[str, str] | None) -> type[RemoteStore]:
    if registry is not None:
        target = registry.get(scheme)
    else:
        found = {ep.value for ep in entry_points(group=STORE_ENTRY_POINT_GROUP, name=scheme)}
        if len(found) > 1:
            raise UserError(
                f"scheme {scheme!r} is registered by several stores: {sorted(found)}",
                hint="uninstall one of the packages that provide it",
            )
        target = found.pop() if found else None
    if target is None:
        raise UserError(
            f"no remote store for scheme {scheme!r}",
            hint="use gs://bucket/prefix, s3://bucket/prefix or file:///path",
        )
    module, _, attr = target.partition(":")
    try:
        cls = getattr(import_module(module), attr)
    except ImportError as exc:
        raise UserError(
            f"the {scheme}:// store needs {exc.name or module}",
            hint=f"pip install 'alebuild[{'gcs' if scheme == 'gs' else scheme}]'",
        ) from exc
    return cls


def open_store(
    url: str, visibility: str = "public", registry: Mapping[str, str] | None = None
) -> RemoteStore:
    """The store for ``url``, chosen by scheme.

    ``file://`` is built in; other schemes come from ``registry`` (scheme ->
    ``"module:Class"``) when given, else from the ``alebuild.stores`` entry points.
    An unknown scheme or a missing SDK is a ``UserError``.
    """
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileStore(url, visibility)
    return _load_store_class(scheme, registry)(url, visibility)


@dataclass(frozen=True)
class TransferResult:
    """The outcome of one transfer: ``value`` when it worked, else ``error``."""

    item: Any
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def transfer_many(
    store: RemoteStore,
    items: Iterable[Any],
    op: str | Callable[..., Any],
    limit: int = 16,
) -> list[TransferResult]:
    """Run ``op`` over ``items`` with at most ``limit`` transfers in flight.

    ``op`` is a store method name (``"put_blob"``, ``"get_blob"``, ...) called as
    ``store.<op>(*item)``, or a callable called as ``op(store, *item)``; a non-tuple item
    is one argument. Results come back in item order; an ``Exception`` from one item is
    recorded in its result and does not stop the others. Cancellation propagates.
    """
    call = getattr(store, op) if isinstance(op, str) else (lambda *a: op(store, *a))
    items = list(items)
    if not items:
        return []
    results: list[TransferResult | None] = [None] * len(items)
    # A private pool: the default executor is capped at cpu+4 threads, and transfers wait
    # on the network, not the CPU.
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items)))) as pool:
        gate = asyncio.Semaphore(max(1, limit))

        async def one(i: int, item: Any) -> None:
            args = item if isinstance(item, tuple) else (item,)
            async with gate:
                try:
                    value = await loop.run_in_executor(pool, call, *args)
                except Exception as exc:  # recorded per item; the caller decides
                    results[i] = TransferResult(item, error=exc)
                else:
                    results[i] = TransferResult(item, value=value)

        async with asyncio.TaskGroup() as tg:
            for i, item in enumerate(items):
                tg.create_task(one(i, item))
    return [r for r in results if r is not None]
