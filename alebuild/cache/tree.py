"""Merkle trees of directories.

A tree object is ``b"alebuild-tree\\n" + canonical_json(entries)``, where entries is a list
sorted by name of ``[name, kind, mode, ref]``:

- ``"file"``: ref is the blob digest of the bytes;
- ``"dir"``: ref is the digest of the subtree's object;
- ``"symlink"``: ref is the link target string (never followed), mode is 0.

The tree digest is the digest of the object bytes, so names, kinds, modes, contents and
link targets all count, and host paths never do.

``modes="exec"`` (workspace inputs) normalises modes to 0o755/0o644 so a digest is stable
across umasks and checkouts; ``modes="full"`` (sandbox artifacts) keeps ``st_mode & 0o7777``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alebuild.cache.digest import canonical_json, digest_bytes, parse_digest
from alebuild.cache.statcache import StatCache, _hash_regular

__all__ = [
    "TREE_HEADER",
    "MODES",
    "TreeResult",
    "TreeTooLarge",
    "hash_tree",
    "is_tree_object",
    "parse_tree_object",
    "make_tree_object",
]

TREE_HEADER = b"alebuild-tree\n"
MODES = ("exec", "full")
_KINDS = ("file", "dir", "symlink")

TreeEntry = tuple[str, str, int, str]


class TreeTooLarge(ValueError):
    """The tree exceeds ``max_files`` or ``max_bytes``."""


@dataclass(frozen=True)
class TreeResult:
    """The outcome of ``hash_tree``.

    ``objects``: every tree object by digest (subtrees before their parents, root last);
    ``files``: blob digest -> one path holding those bytes; ``file_count`` and
    ``total_bytes`` count regular files (each occurrence, not deduplicated).
    """

    digest: str
    objects: dict[str, bytes] = field(repr=False)
    files: dict[str, Path] = field(repr=False)
    file_count: int
    total_bytes: int


def make_tree_object(entries: list[TreeEntry] | list[list]) -> bytes:
    """The object bytes for ``entries`` (sorted here by name)."""
    rows = sorted(([n, k, m, r] for n, k, m, r in entries), key=lambda e: e[0])
    return TREE_HEADER + canonical_json(rows)


def is_tree_object(data: bytes) -> bool:
    """True if ``data`` starts with the tree header."""
    return data[: len(TREE_HEADER)] == TREE_HEADER


def _check_name(name: object) -> str:
    # A name is one path component: this is what keeps materialize inside its destination.
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"bad tree entry name {name!r}")
    return name


def parse_tree_object(data: bytes) -> list[TreeEntry]:
    """The entries of a tree object; ``ValueError`` if it is malformed or unsafe."""
    if not is_tree_object(data):
        raise ValueError("not a tree object (missing header)")
    try:
        rows = json.loads(data[len(TREE_HEADER) :])
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"malformed tree object: {e}") from None
    if not isinstance(rows, list):
        raise ValueError("malformed tree object: entries must be a list")
    out: list[TreeEntry] = []
    previous = None
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4):
            raise ValueError(f"malformed tree entry {row!r}")
        name, kind, mode, ref = row
        _check_name(name)
        if previous is not None and name <= previous:
            raise ValueError(f"tree entries not sorted/unique at {name!r}")
        previous = name
        if kind not in _KINDS or not isinstance(mode, int) or isinstance(mode, bool):
            raise ValueError(f"malformed tree entry {row!r}")
        if not isinstance(ref, str) or not (0 <= mode <= 0o7777):
            raise ValueError(f"malformed tree entry {row!r}")
        if kind != "symlink":
            parse_digest(ref)
        out.append((name, kind, mode, ref))
    return out


class _Walk:
    def __init__(self, algo, statcache, modes, max_files, max_bytes, exclude) -> None:
        if modes not in MODES:
            raise ValueError(f"modes must be one of {MODES}, got {modes!r}")
        self.algo = algo
        self.statcache = statcache
        self.full = modes == "full"
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.exclude = exclude
        self.objects: dict[str, bytes] = {}
        self.files: dict[str, Path] = {}
        self.file_count = 0
        self.total_bytes = 0

    def _count(self, size: int, path: str) -> None:
        self.file_count += 1
        self.total_bytes += size
        if self.max_files is not None and self.file_count > self.max_files:
            raise TreeTooLarge(f"{path}: tree has more than {self.max_files} files")
        if self.max_bytes is not None and self.total_bytes > self.max_bytes:
            raise TreeTooLarge(f"{path}: tree holds more than {self.max_bytes} bytes")

    def directory(self, abspath: str, rel: str) -> str:
        rows: list[list] = []
        with os.scandir(abspath) as it:
            dirents = sorted(it, key=lambda e: e.name)
        for de in dirents:
            name = de.name
            sub_rel = f"{rel}/{name}" if rel else name
            if self.exclude is not None and self.exclude(sub_rel):
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"{de.path}: file name is not valid UTF-8") from None
            st = de.stat(follow_symlinks=False)
            m = st.st_mode
            if stat.S_ISLNK(m):
                target = os.readlink(de.path)
                try:
                    target.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"{de.path}: link target is not valid UTF-8") from None
                rows.append([name, "symlink", 0, target])
            elif stat.S_ISDIR(m):
                mode = stat.S_IMODE(m) if self.full else 0o755
                rows.append([name, "dir", mode, self.directory(de.path, sub_rel)])
            elif stat.S_ISREG(m):
                self._count(st.st_size, de.path)
                blob = _hash_regular(de.path, st, self.algo, self.statcache)
                if blob not in self.files:
                    self.files[blob] = Path(de.path)
                if self.full:
                    mode = stat.S_IMODE(m)
                else:
                    mode = 0o755 if m & 0o111 else 0o644
                rows.append([name, "file", mode, blob])
            else:
                raise ValueError(f"{de.path}: cannot hash a special file (fifo, socket or device)")
        # Rows are plain by construction (UTF-8 names checked above, ints, digests), so they
        # are serialised exactly as canonical_json would, without its validation walk.
        data = TREE_HEADER + json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        digest = digest_bytes(data, self.algo)
        self.objects.setdefault(digest, data)
        return digest


def hash_tree(
    root: Path,
    algo: str = "xxh128",
    statcache: StatCache | None = None,
    modes: str = "exec",
    max_files: int | None = None,
    max_bytes: int | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> TreeResult:
    """Hash the directory ``root`` into a Merkle tree.

    ``exclude(rel)`` gets each entry's path relative to ``root`` with ``/`` separators and
    drops it (and, for a directory, everything under it) when it returns True.
    Raises ``TreeTooLarge`` past the caps, ``ValueError`` for special files or names that
    are not UTF-8, ``NotADirectoryError``/``FileNotFoundError`` for a bad root.
    """
    walk = _Walk(algo, statcache, modes, max_files, max_bytes, exclude)
    top = os.path.abspath(os.fspath(root))
    if not os.path.isdir(top):
        raise NotADirectoryError(f"{top}: not a directory")
    digest = walk.directory(top, "")
    # The root object last, after every subtree (dict insertion order).
    walk.objects[digest] = walk.objects.pop(digest)
    return TreeResult(digest, walk.objects, walk.files, walk.file_count, walk.total_bytes)
