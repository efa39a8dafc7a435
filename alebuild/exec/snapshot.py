"""The no-op fast path: replay a build whose every input is provably unchanged.

Loading BUILD files and computing 15,000 keys costs about a second in Python even when
nothing changed. So when a build turns out to be a pure no-op (pass one of the scheduler
settled every action from the cache), the filesystem facts that load and key computation
depended on are recorded with the keys:

- every file opened and every directory listed (Python audit events ``open``,
  ``os.scandir``, ``os.listdir``), and every path stat'ed (``os.stat``/``os.lstat`` are
  wrapped while recording), anywhere outside the cache: BUILD files, sources, task cards,
  selected lists, recipes, and existence checks of paths that were absent;
- the engine's and the rules' own source files, the registered kinds, the workspace
  config and the build options that shape keys.

The next build of the same patterns stats those paths; if every signature (size, mtime,
ctime, inode, mode, or "absent") is the same, every action record still exists with its
blobs, the keys are those recorded and the build is replayed from the action cache
without loading anything. Any difference, or anything the recorder could not follow (a
listing by file descriptor), means the normal path. Facts younger than two seconds are
not trusted (a file can change again within one timestamp tick), so such a snapshot is
not written. Rules must not read environment variables while loading or keying (they do
not: secrets are read at run time); set ALEBUILD_NO_FASTPATH=1 to turn the fast path off.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["Recorder", "Snapshot", "fastpath_enabled"]

_FORMAT = 1
_RACY_NS = 2_000_000_000
_ACTIVE: Recorder | None = None
_HOOKED = False
_IGNORED_PREFIXES = ("/proc/", "/dev/", "/sys/")


def fastpath_enabled() -> bool:
    return os.environ.get("ALEBUILD_NO_FASTPATH", "") in ("", "0")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    rec = _ACTIVE
    if rec is None:
        return
    if event == "open":
        if not isinstance(args[0], int):  # opening an fd is not a new dependency
            rec.note(args[0], "stat")
    elif event in ("os.scandir", "os.listdir"):
        rec.note("." if args[0] is None else args[0], "stat")


def _sig(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


def _observe(path: str, how: str) -> tuple[int, int, int, int, int] | None:
    try:
        return _sig(os.stat(path) if how == "stat" else os.lstat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


class Recorder:
    """Collects the paths the code under ``with`` looked at (this process, all threads)."""

    def __init__(self, exclude: list[Path]) -> None:
        self.exclude = tuple(os.fspath(p).rstrip("/") + "/" for p in exclude)
        self.paths: dict[tuple[str, str], None] = {}
        self.unfollowable = False
        self._stat = os.stat
        self._lstat = os.lstat

    def note(self, path: Any, how: str) -> None:
        if isinstance(path, int):  # a listing by descriptor: cannot say what was listed
            self.unfollowable = True
            return
        try:
            text = os.fsdecode(path)
        except TypeError:
            self.unfollowable = True
            return
        full = os.path.abspath(text)
        if full.startswith(_IGNORED_PREFIXES) or (full + "/").startswith(self.exclude):
            return
        self.paths[(full, how)] = None

    def __enter__(self) -> Recorder:
        global _ACTIVE, _HOOKED
        if not _HOOKED:  # audit hooks cannot be removed: one hook, inert when inactive
            sys.addaudithook(_audit)
            _HOOKED = True
        real_stat, real_lstat = self._stat, self._lstat

        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            if not isinstance(path, int):  # a stat of an open fd follows a recorded open
                self.note(path, "stat" if kwargs.get("follow_symlinks", True) else "lstat")
            return real_stat(path, *args, **kwargs)

        def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            self.note(path, "lstat")
            return real_lstat(path, *args, **kwargs)

        os.stat, os.lstat = stat, lstat
        _ACTIVE = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _ACTIVE
        _ACTIVE = None
        os.stat, os.lstat = self._stat, self._lstat

    def facts(self) -> list[tuple[str, str, tuple[int, int, int, int, int] | None]] | None:
        """Each recorded path with its signature now; None if they cannot be trusted."""
        if self.unfollowable:
            return None
        now = time.time_ns()
        out = []
        for path, how in self.paths:
            sig = _observe(path, how)
            if sig is not None and now - sig[1] < _RACY_NS:
                return None
            out.append((path, how, sig))
        return out


class Snapshot:
    """A recorded no-op build: facts, identity of what shaped the keys, and the keys."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, identity: dict[str, Any], facts: list, targets: Any) -> None:
        data = marshal.dumps({"format": _FORMAT, "identity": identity, "facts": facts, "targets": targets})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)

    def load_if_valid(self, identity: dict[str, Any]) -> Any | None:
        """What ``write`` stored as ``targets`` if nothing it depends on changed, else None."""
        try:
            data = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("identity") != identity:
            return None
        for path, how, sig in data["facts"]:
            if _observe(path, how) != (tuple(sig) if sig is not None else None):
                return None
        return data["targets"]

    def discard(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def code_signature(modules: list[Any]) -> list[tuple[str, tuple[int, int, int, int, int] | None]]:
    """Signatures of every Python file of the given packages (the engine and the rules)."""
    out = []
    for module in modules:
        for base in getattr(module, "__path__", []):
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in sorted(filenames):
                    if name.endswith(".py"):
                        path = os.path.join(dirpath, name)
                        out.append((path, _observe(path, "stat")))
    return out
