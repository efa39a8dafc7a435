"""The action cache: action key -> recorded result, in diskcache (process-safe SQLite).

Invariants (DESIGN 5): an entry is written only after every blob it names is in the CAS
(``put`` refuses otherwise), and a hit is trusted only if every blob it names is still
present (``get`` returns None otherwise, leaving the entry so ``explain`` can still read
its keyfile).

Records are stored as compact JSON text, so a lookup is one SQLite read plus one
``json.loads``: a no-op build of 15,000 targets does 15,000 of them.
"""

from __future__ import annotations

import fcntl
import json
import marshal
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import diskcache

from alebuild.cache.cas import LocalCAS
from alebuild.cache.digest import digest_bytes, parse_digest

__all__ = ["ActionRecord", "ActionCache"]

_RECORD = "ac:"
_LAST = "last:"
_MARK = "mark:"
_KEYFILE = "kf:"


@dataclass
class ActionRecord:
    """One action's result.

    ``outputs``: output name -> CAS digest (blob or tree); ``value``: small JSON result
    (score, ...); ``meta``: timing, cost, provenance (not part of any key); ``keyfile``:
    the canonical inputs the key was computed from; ``output_digest``: what dependents
    are keyed on; ``created_at``: epoch seconds.
    """

    key: str
    label: str
    kind: str
    outcome: str
    outputs: dict[str, str] = field(default_factory=dict)
    value: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    keyfile: dict = field(default_factory=dict)
    output_digest: str = ""
    created_at: float = 0.0
    trees: list[str] = field(default_factory=list)  # names of outputs that are trees

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | bytes) -> ActionRecord:
        d = json.loads(data)
        if d.keys() <= _FIELDS:
            return cls(**d)
        # Written by a newer alebuild: ignore fields this version does not know.
        return cls(**{k: v for k, v in d.items() if k in _FIELDS})


_FIELDS = frozenset(f.name for f in fields(ActionRecord))
_RECENT_FILE = "recent-hits.marshal"
_RECENT_FORMAT = 1


def _slim_dict(rec: ActionRecord) -> dict:
    d = asdict(rec)
    d["keyfile"] = {}
    return d


class ActionCache:
    """Key -> ``ActionRecord`` over ``diskcache.Cache(directory)``, checked against ``cas``."""

    def __init__(self, directory: Path, cas: LocalCAS) -> None:
        self.directory = Path(directory)
        self.cas = cas
        # Never evict: an action record is tiny and losing one costs a rebuild or a re-run.
        self._db = diskcache.Cache(str(self.directory), eviction_policy="none")
        self._recent: dict[str, dict] | None = None
        self._seen: dict[str, dict] = {}

    def __enter__(self) -> ActionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.save_recent()
        self._db.close()

    def _raw(self, key: str) -> ActionRecord | None:
        data = self._db.get(_RECORD + key)
        return None if data is None else ActionRecord.from_json(data)

    def _present(self, outputs: dict[str, str], trees: list[str]) -> bool:
        exists = os.path.exists
        path_of = self.cas.path_str
        for name, d in outputs.items():
            if name in trees:
                if not self.cas.has_all(d):
                    return False
            elif not exists(path_of(d)):
                return False
        return True

    def get_fields(self, key: str) -> dict | None:
        """The record for ``key`` as plain fields, if every output it names is in the CAS.

        A plain blob is checked with one stat; a tree (``trees`` names them, found at
        ``put``) is walked, so a member evicted behind its back makes the entry a miss.
        The recent-hits snapshot is tried first, then the database.
        """
        recent = self._recent_hits().get(key)
        if recent is not None and self._present(recent["outputs"], recent["trees"]):
            self._seen[key] = recent
            return recent
        rec = self._raw(key)
        if rec is None or not self._present(rec.outputs, rec.trees):
            return None
        fields = self._seen[key] = _slim_dict(rec)
        return fields

    def get(self, key: str) -> ActionRecord | None:
        """``get_fields`` as an ``ActionRecord`` (its keyfile is read with ``keyfile``)."""
        fields = self.get_fields(key)
        return None if fields is None else ActionRecord(**fields)

    # A no-op build looks up every action. The records it found last time are kept in one
    # marshal file read at the first lookup (a few ms for 15,000), sparing a SQLite query and
    # a JSON decode per action. Safe because a key's record never changes meaning: a stale
    # entry is at worst one whose blobs are gone, which the checks above catch, and then the
    # database is consulted.
    def _recent_hits(self) -> dict[str, dict]:
        if self._recent is None:
            self._recent = {}
            try:
                loaded = marshal.loads((self.directory / _RECENT_FILE).read_bytes())
                if isinstance(loaded, dict) and loaded.get("format") == _RECENT_FORMAT:
                    self._recent = loaded["records"]
            except (OSError, ValueError, EOFError, TypeError, KeyError):
                pass
        return self._recent

    def save_recent(self) -> None:
        """Persist the records this process found or stored (the next build's working set)."""
        if not self._seen or self._seen == self._recent:
            return
        data = marshal.dumps({"format": _RECENT_FORMAT, "records": self._seen})
        tmp = self.directory / f".{_RECENT_FILE}.{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / _RECENT_FILE)

    def put(self, record: ActionRecord) -> None:
        """Store ``record``; ``ValueError`` if any output is not fully in the CAS."""
        missing = [d for d in record.outputs.values() if not self.cas.has_all(d)]
        if missing:
            raise ValueError(
                f"{record.label}: refusing to cache an action whose outputs are not stored: "
                + ", ".join(missing)
            )
        # The keyfile is stored apart: only reasons and `explain` read it, and every lookup
        # of a no-op build would otherwise decode it.
        trees = sorted(n for n, d in record.outputs.items() if self.cas.is_tree(d))
        slim = ActionRecord(**{**record.__dict__, "keyfile": {}, "trees": trees})
        self._seen[record.key] = _slim_dict(slim)
        if self._recent is not None:
            self._recent.pop(record.key, None)
        self._db.set(_RECORD + record.key, slim.to_json())
        self._db.set(_KEYFILE + record.key, json.dumps(record.keyfile, sort_keys=True))
        if record.label:
            self._db.set(_LAST + record.label, record.key)

    def last_key(self, label: str) -> str | None:
        """The key most recently ``put`` for ``label`` (for ``explain``)."""
        return self._db.get(_LAST + label)

    def keyfile(self, key: str) -> dict | None:
        """The stored keyfile of ``key``, even if its blobs have since been evicted."""
        data = self._db.get(_KEYFILE + key)
        return None if data is None else json.loads(data)

    def delete(self, key: str) -> None:
        self._recent_hits().pop(key, None)
        self._seen.pop(key, None)
        self._db.delete(_RECORD + key)
        self._db.delete(_KEYFILE + key)

    def mark(self, name: str) -> None:
        """Remember a fact about the cache (e.g. "entry K was published to store S")."""
        self._db.set(_MARK + name, 1)

    def marked(self, name: str) -> bool:
        return self._db.get(_MARK + name) is not None

    def iter_records(self) -> Iterator[ActionRecord]:
        """Every stored record (including ones whose blobs are gone)."""
        for k in self._db.iterkeys():
            if isinstance(k, str) and k.startswith(_RECORD):
                rec = self._raw(k[len(_RECORD) :])
                if rec is not None:
                    yield rec

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive inter-process (and inter-thread) lock for ``key``; blocks until held.

        Callers re-check ``get`` after acquiring, so concurrent builds of one action on one
        cache run it once. Lock files are never deleted: unlinking one would let a waiter
        and a newcomer lock different inodes.
        """
        try:
            name = parse_digest(key)[1]
        except ValueError:
            name = digest_bytes(key.encode("utf-8")).partition(":")[2]
        locks = self.directory / "locks"
        path = locks / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock
