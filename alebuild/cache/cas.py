"""The local content-addressed store.

Layout: ``<root>/<algo>/<hex[:2]>/<hex[2:]>`` (so xxh128 and sha256 blobs coexist), with
in-flight writes under ``<root>/tmp/`` (same filesystem, never seen as blobs). A write
streams to a temp file while hashing and is renamed into place, so a blob path only ever
holds complete bytes. Every read verifies the digest: a corrupt blob is deleted (evicted)
and ``CorruptBlobError`` raised, never served.

A blob's mtime is its LRU clock: ``touch`` refreshes it, ``gc`` evicts the oldest first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alebuild.cache.digest import (
    ALGORITHMS,
    CHUNK_SIZE,
    algo_of,
    digest_bytes,
    digest_stream,
    new_hasher,
    parse_digest,
)
from alebuild.cache.statcache import StatCache
from alebuild.cache.tree import TREE_HEADER, hash_tree, parse_tree_object

__all__ = ["LocalCAS", "CorruptBlobError", "MissingBlobError", "VerifyReport"]


class CorruptBlobError(Exception):
    """A stored blob did not match its digest; it has been evicted. Refetch or rebuild."""

    def __init__(self, digest: str, message: str | None = None) -> None:
        self.digest = digest
        super().__init__(message or f"corrupt blob {digest} (evicted)")


class MissingBlobError(KeyError):
    """The blob is not in the store."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(digest)

    def __str__(self) -> str:
        return f"blob {self.digest} is not in the store"


@dataclass
class VerifyReport:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    bytes: int = 0


class _Streamer:
    """Copy a stream to a file object while hashing it."""

    def __init__(self, algo: str) -> None:
        self.hasher = new_hasher(algo)
        self.algo = algo
        self.size = 0

    def run(self, src, dst) -> str:
        buf = bytearray(CHUNK_SIZE)
        view = memoryview(buf)
        while n := src.readinto(buf):
            chunk = view[:n]
            self.hasher.update(chunk)
            dst.write(chunk)
            self.size += n
        return f"{self.algo}:{self.hasher.hexdigest()}"


_HEX_LEN = {"xxh128": 32, "sha256": 64}


class LocalCAS:
    """Blobs and tree objects by digest under ``root``; ``algo`` is used for new writes."""

    def __init__(self, root: Path, algo: str = "xxh128") -> None:
        if algo not in ALGORITHMS:
            raise ValueError(f"unknown digest algorithm {algo!r}")
        self.root = Path(root)
        self._root_str = os.fspath(self.root)
        self.algo = algo
        self._tmp = self.root / "tmp"
        # Digests known complete (has_all); cleared on any delete by this instance.
        self._complete: set[str] = set()

    # -- paths and presence ------------------------------------------------------------
    def path_of(self, d: str) -> Path:
        algo, hexpart = parse_digest(d)
        return self.root / algo / hexpart[:2] / hexpart[2:]

    def has(self, d: str) -> bool:
        return os.path.exists(self.path_str(d))

    def path_str(self, d: str) -> str:
        """``path_of`` as a string, without pathlib: the hot path of cache hits."""
        algo, _, hexpart = d.partition(":")
        if _HEX_LEN.get(algo) != len(hexpart) or not hexpart.isalnum():
            return os.fspath(self.path_of(d))  # validates and raises for a bad digest
        return f"{self._root_str}/{algo}/{hexpart[:2]}/{hexpart[2:]}"

    def touch(self, d: str) -> bool:
        """Mark ``d`` as recently used (mtime = now); False if it is absent."""
        try:
            os.utime(self.path_of(d))
            return True
        except FileNotFoundError:
            return False

    def _tempfile(self, directory: Path | None = None) -> tuple[int, str]:
        directory = directory or self._tmp
        try:
            return tempfile.mkstemp(prefix=".tmp-", dir=directory)
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=".tmp-", dir=directory)

    def _commit(self, tmp: str, d: str) -> None:
        """Rename a complete temp file to the blob path (or drop it if already present)."""
        dest = self.path_of(d)
        if os.path.exists(dest):
            os.unlink(tmp)
            os.utime(dest)
            return
        os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, dest)
        except FileNotFoundError:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)

    # -- writes ------------------------------------------------------------------------
    def _put_known(self, d: str, data: bytes) -> str:
        if self.touch(d):
            return d
        fd, tmp = self._tempfile()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self._commit(tmp, d)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return d

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest. An existing blob is not rewritten."""
        return self._put_known(digest_bytes(data, self.algo), data)

    def put_file(self, path: Path, digest: str | None = None) -> str:
        """Store the bytes of ``path``, hashing while copying; returns the digest.

        With ``digest`` given: if that blob is already present the file is not read at all;
        otherwise the bytes read must hash to it, else ``ValueError`` (nothing is stored).
        """
        if digest is not None and self.touch(digest):
            return digest
        algo = algo_of(digest) if digest is not None else self.algo
        fd, tmp = self._tempfile()
        try:
            with open(path, "rb", buffering=0) as src, os.fdopen(fd, "wb") as dst:
                got = _Streamer(algo).run(src, dst)
            if digest is not None and got != digest:
                raise ValueError(f"{path}: content hashes to {got}, expected {digest} (changed?)")
            self._commit(tmp, got)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return got

    def put_tree(
        self,
        root: Path,
        modes: str = "exec",
        statcache: StatCache | None = None,
        exclude: Callable[[str], bool] | None = None,
        max_files: int | None = None,
        max_bytes: int | None = None,
    ) -> str:
        """Hash ``root`` (see ``hash_tree``) and store every blob, then every tree object.

        Blobs go first and the root object last, so a present root implies a complete tree
        unless something was evicted since.
        """
        result = hash_tree(root, self.algo, statcache, modes, max_files, max_bytes, exclude)
        for blob, path in result.files.items():
            self.put_file(path, blob)
        for d, data in result.objects.items():
            self._put_known(d, data)
        self._complete.add(result.digest)
        return result.digest

    # -- reads -------------------------------------------------------------------------
    def _evict(self, d: str) -> None:
        _unlink_quiet(self.path_of(d))
        self._complete.clear()

    def read_bytes(self, d: str) -> bytes:
        """The verified bytes of ``d``. ``MissingBlobError`` / ``CorruptBlobError``."""
        try:
            with open(self.path_of(d), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise MissingBlobError(d) from None
        if digest_bytes(data, algo_of(d)) != d:
            self._evict(d)
            raise CorruptBlobError(d)
        return data

    def _header(self, d: str) -> bytes:
        try:
            with open(self.path_of(d), "rb") as f:
                return f.read(len(TREE_HEADER))
        except FileNotFoundError:
            raise MissingBlobError(d) from None

    def is_tree(self, d: str) -> bool:
        """True if blob ``d`` is a tree object. ``MissingBlobError`` if absent."""
        return self._header(d) == TREE_HEADER

    def copy_to(self, d: str, dest: Path, mode: int | None = None) -> None:
        """Write blob ``d`` to the file ``dest`` (atomically, verified; mode default 0o644)."""
        dest = Path(dest)
        try:
            src = open(self.path_of(d), "rb", buffering=0)
        except FileNotFoundError:
            raise MissingBlobError(d) from None
        fd, tmp = self._tempfile(dest.parent)
        try:
            with src, os.fdopen(fd, "wb") as dst:
                got = _Streamer(algo_of(d)).run(src, dst)
            if got != d:
                self._evict(d)
                raise CorruptBlobError(d)
            os.chmod(tmp, 0o644 if mode is None else mode)
            os.replace(tmp, dest)
        except BaseException:
            _unlink_quiet(tmp)
            raise

    def materialize(self, d: str, dest: Path) -> None:
        """Recreate ``d`` at ``dest``: a tree as a directory (modes, symlinks), else a file."""
        dest = Path(dest)
        if not self.is_tree(d):
            self.copy_to(d, dest)
            return
        entries = parse_tree_object(self.read_bytes(d))
        dest.mkdir(parents=True, exist_ok=True)
        for name, kind, mode, ref in entries:
            target = dest / name
            if kind == "file":
                if target.is_symlink() or target.is_dir():
                    _remove(target)
                self.copy_to(ref, target, mode)
            elif kind == "symlink":
                if target.is_symlink() or target.exists():
                    _remove(target)
                os.symlink(ref, target)
            else:
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    _remove(target)
                self.materialize(ref, target)
                # After the children: a read-only directory mode must not block filling it.
                os.chmod(target, mode)

    def has_all(self, d: str) -> bool:
        """True if ``d`` is present and, for a tree, every blob/subtree it names, recursively."""
        if d in self._complete:
            return True
        try:
            if self._header(d) != TREE_HEADER:
                self._complete.add(d)
                return True
            entries = parse_tree_object(self.read_bytes(d))
        except (MissingBlobError, CorruptBlobError, ValueError):
            return False
        for _name, kind, _mode, ref in entries:
            if kind == "file" and ref not in self._complete:
                if not os.path.exists(self.path_of(ref)):
                    return False
            elif kind == "dir" and not self.has_all(ref):
                return False
        self._complete.add(d)
        return True

    # -- maintenance -------------------------------------------------------------------
    def iter_blobs(self) -> Iterator[tuple[str, int, float]]:
        """Every stored blob as ``(digest, size, mtime)``; temp files are never listed."""
        for algo in ALGORITHMS:
            top = self.root / algo
            if not top.is_dir():
                continue
            for sub in os.scandir(top):
                if not (sub.is_dir(follow_symlinks=False) and len(sub.name) == 2):
                    continue
                for e in os.scandir(sub.path):
                    d = f"{algo}:{sub.name}{e.name}"
                    try:
                        parse_digest(d)
                        st = e.stat(follow_symlinks=False)
                    except (ValueError, FileNotFoundError):
                        continue
                    yield d, st.st_size, st.st_mtime

    def delete(self, d: str) -> None:
        """Remove blob ``d`` if present."""
        self._evict(d)

    def verify_all(self) -> VerifyReport:
        """Re-hash every blob; corrupt ones are evicted and listed."""
        report = VerifyReport()
        for d, _size, _mtime in list(self.iter_blobs()):
            try:
                with open(self.path_of(d), "rb", buffering=0) as f:
                    got, size = digest_stream(f, algo_of(d))
            except FileNotFoundError:
                continue
            report.checked += 1
            report.bytes += size
            if got != d:
                self._evict(d)
                report.corrupt.append(d)
        return report

    def total_size(self) -> int:
        return sum(size for _d, size, _m in self.iter_blobs())

    def clean_temp(self, older_than: float) -> int:
        """Remove temp files (left by crashed writers) with mtime before ``older_than``."""
        removed = 0
        if self._tmp.is_dir():
            for e in os.scandir(self._tmp):
                try:
                    if e.stat(follow_symlinks=False).st_mtime < older_than:
                        os.unlink(e.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed


def _unlink_quiet(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
