"""A stat-keyed cache of parsed BUILD.toml documents, persisted between builds.

Parsing TOML is about half the cost of loading a large workspace; an unchanged file (same
size, mtime, ctime, inode) is taken from here instead. Like the stat cache, a file modified
within the last two seconds is not recorded (it could change again within one timestamp
tick), and a corrupt cache file is treated as empty.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["ParseCache"]

_RACY_NS = 2_000_000_000
_FORMAT = 1


def _sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, tuple[tuple[int, int, int, int], Any]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, tuple[tuple[int, int, int, int], Any]]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    fmt, entries = pickle.loads(self.path.read_bytes())
                    if fmt == _FORMAT and isinstance(entries, dict):
                        self._entries = entries
                except Exception:  # absent, torn or from another version: start empty
                    pass
        return self._entries

    def get(self, name: str, st: os.stat_result) -> Any | None:
        hit = self._load().get(name)
        return hit[1] if hit is not None and hit[0] == _sig(st) else None

    def put(self, name: str, st: os.stat_result, value: Any) -> None:
        if time.time_ns() - st.st_mtime_ns < _RACY_NS:
            return
        self._load()[name] = (_sig(st), value)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self.path is None or self._entries is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".parse-", dir=self.path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump((_FORMAT, self._entries), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self._dirty = False
