"""A stat cache: skip re-reading files whose stat signature has not changed.

An entry maps a path to ``(size, mtime_ns, ctime_ns, ino, algo, blob digest)``. A lookup
hits only when all four stat fields match (ctime catches a rewrite that restores mtime).

Racy-clean protection: an entry whose mtime is within ``RACY_WINDOW_NS`` of now is never
recorded, since the file could be rewritten again within the same timestamp granularity
and keep an identical signature.

Persistence is a marshal'ed dict (15,000 entries load in a few milliseconds), written to a
temp file and renamed into place, so concurrent processes leave the last writer's file and
never a torn one. An unreadable or corrupt file is treated as empty.
"""

from __future__ import annotations

import marshal
import os
import stat
import tempfile
import time
from pathlib import Path

from alebuild.cache.digest import digest_stream

__all__ = ["StatCache", "hash_file", "RACY_WINDOW_NS"]

RACY_WINDOW_NS = 2_000_000_000
_FORMAT = 1  # bump when the entry layout changes; an old file is then ignored

_Entry = tuple[int, int, int, int, str, str]


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class StatCache:
    """Path -> blob digest memo keyed on the stat signature. ``path=None``: in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._entries: dict[str, _Entry] | None = None
        self._dirty = False

    def _load(self) -> dict[str, _Entry]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    data = marshal.loads(self.path.read_bytes())
                    if isinstance(data, tuple) and data[0] == _FORMAT and isinstance(data[1], dict):
                        self._entries = data[1]
                except (OSError, ValueError, EOFError, TypeError, IndexError):
                    pass  # missing or corrupt: start empty, the next save rewrites it
        return self._entries

    def __len__(self) -> int:
        return len(self._load())

    def lookup(self, path: str, st: os.stat_result, algo: str) -> str | None:
        """The recorded blob digest of ``path`` if its signature and algo match, else None."""
        e = self._load().get(path)
        if e is None or e[4] != algo:
            return None
        if (e[0], e[1], e[2], e[3]) != _signature(st):
            return None
        return e[5]

    def record(self, path: str, st: os.stat_result, algo: str, digest: str) -> bool:
        """Remember ``digest`` for ``path`` at signature ``st``; False if refused as racy."""
        if st.st_mtime_ns > time.time_ns() - RACY_WINDOW_NS:
            return False
        entry = (*_signature(st), algo, digest)
        entries = self._load()
        if entries.get(path) != entry:
            entries[path] = entry
            self._dirty = True
        return True

    def forget(self, path: str) -> None:
        if self._load().pop(path, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Persist atomically if anything changed (no-op for an in-memory cache)."""
        if self.path is None or not self._dirty or self._entries is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".statcache-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                marshal.dump((_FORMAT, self._entries), f)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._dirty = False


def _hash_regular(path: str, st: os.stat_result, algo: str, statcache: StatCache | None) -> str:
    """Blob digest of the regular file at ``path`` whose (l)stat is ``st``."""
    if statcache is not None:
        hit = statcache.lookup(path, st, algo)
        if hit is not None:
            return hit
    with open(path, "rb", buffering=0) as f:
        digest, _ = digest_stream(f, algo, size_hint=st.st_size)
        # Record only if the file did not change while it was read.
        if statcache is not None and _signature(os.fstat(f.fileno())) == _signature(st):
            statcache.record(path, st, algo, digest)
    return digest


def hash_file(
    path: Path | str, algo: str = "xxh128", statcache: StatCache | None = None
) -> tuple[str, bool, int]:
    """``(blob digest, executable, size)`` of a regular file (symlinks are followed).

    Stats once, consults ``statcache``, and streams the file only on a miss.
    ``ValueError`` if ``path`` is not a regular file.
    """
    p = os.path.abspath(os.fspath(path))
    st = os.stat(p)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{p}: not a regular file")
    digest = _hash_regular(p, st, algo, statcache)
    return digest, bool(st.st_mode & 0o111), st.st_size
