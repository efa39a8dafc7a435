"""Garbage collection of the local CAS: least-recently-used first, pinned digests never.

The LRU clock is the blob file's mtime, refreshed by ``LocalCAS.touch`` (and by a put of
an existing blob). Evicting a blob that a tree or an action record names is safe: those
become misses (``has_all`` is False) and are rebuilt or refetched, never served partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from alebuild.cache.cas import CorruptBlobError, LocalCAS, MissingBlobError
from alebuild.cache.tree import parse_tree_object

__all__ = ["GcReport", "gc", "reachable", "parse_size", "select_victims"]

# Temp files older than this are leftovers of crashed writers, not writes in flight.
_STALE_TEMP_S = 24 * 3600

_UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


@dataclass
class GcReport:
    removed: int = 0
    freed: int = 0
    kept: int = 0
    victims: list[str] = field(default_factory=list)


def parse_size(text: str | int) -> int:
    """``"50G"`` -> 50 * 1024**3. Units K, M, G, T (powers of 1024, optional ``B``/``iB``)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"size must not be negative: {text}")
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"bad size {text!r}: expected e.g. 50G, 512M, 1.5T or a byte count")
    number, unit = m.groups()
    return int(float(number) * 1024 ** _UNITS[unit.upper()])


def reachable(cas: LocalCAS, roots: Iterable[str]) -> set[str]:
    """Every digest reachable from ``roots``: the roots plus, for trees, all they name."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        try:
            if not cas.is_tree(d):
                continue
            entries = parse_tree_object(cas.read_bytes(d))
        except (MissingBlobError, CorruptBlobError, ValueError):
            continue  # absent or broken: nothing further to pin
        for _name, kind, _mode, ref in entries:
            if kind == "file":
                seen.add(ref)
            elif kind == "dir":
                stack.append(ref)
    return seen


def gc(
    cas: LocalCAS,
    max_size: int | None,
    max_age_s: float | None,
    keep: set[str],
    now: float,
) -> GcReport:
    """Evict unpinned blobs, oldest first, until the store is at most ``max_size`` bytes and
    no unpinned blob is older than ``max_age_s``. Digests in ``keep`` are never evicted
    (so the result can stay above ``max_size`` when pinned data alone exceeds it).
    """
    report = select_victims(cas.iter_blobs(), max_size, max_age_s, keep, now)
    for d in report.victims:
        cas.delete(d)
    cas.clean_temp(now - _STALE_TEMP_S)
    return report


def select_victims(
    blobs: Iterable[tuple[str, int, float]],
    max_size: int | None,
    max_age_s: float | None,
    keep: set[str],
    now: float,
) -> GcReport:
    """Which blobs (digest, size, last-used time) an LRU pass evicts; nothing is deleted.

    Shared by the local CAS and remote stores (whose clock is the object's update time).
    """
    report = GcReport()
    ordered = sorted(blobs, key=lambda b: (b[2], b[0]))
    total = sum(size for _d, size, _m in ordered)
    for d, size, mtime in ordered:
        if d in keep:
            continue
        too_old = max_age_s is not None and now - mtime > max_age_s
        too_big = max_size is not None and total > max_size
        if not (too_old or too_big):
            continue
        report.victims.append(d)
        total -= size
        report.removed += 1
        report.freed += size
    report.kept = total
    return report
