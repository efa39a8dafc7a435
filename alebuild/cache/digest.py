"""Tagged digests and total canonical JSON.

A digest is a string ``"<algo>:<lowercase hex>"``: ``xxh128`` (xxh3-128, 32 hex digits) by
default, ``sha256`` (64 hex digits) for caches shared with parties one does not trust.

``canonical_json`` is *total*: it accepts only plain JSON values and raises
``UnhashableError`` naming the location of anything else, so nothing is ever silently
dropped or stringified into a key.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, BinaryIO, Protocol

import xxhash

__all__ = [
    "ALGORITHMS",
    "CHUNK_SIZE",
    "Hasher",
    "UnhashableError",
    "new_hasher",
    "digest_bytes",
    "digest_stream",
    "parse_digest",
    "algo_of",
    "canonical_json",
    "digest_json",
    "file_digest",
]

ALGORITHMS = ("xxh128", "sha256")
_HEX_LEN = {"xxh128": 32, "sha256": 64}
_HEX_CHARS = frozenset("0123456789abcdef")
# 1 MiB: large enough that syscall overhead vanishes, small enough to stay in L2/L3 cache.
CHUNK_SIZE = 1 << 20


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class UnhashableError(TypeError):
    """A value that cannot enter a key; the message names where it sits in the object."""


def new_hasher(algo: str) -> Hasher:
    """A fresh incremental hasher for ``algo`` (one of ``ALGORITHMS``)."""
    if algo == "xxh128":
        return xxhash.xxh3_128()
    if algo == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown digest algorithm {algo!r} (expected one of {ALGORITHMS})")


def digest_bytes(data: bytes | bytearray | memoryview, algo: str = "xxh128") -> str:
    """The tagged digest of ``data``."""
    if algo == "xxh128":
        return "xxh128:" + xxhash.xxh3_128_hexdigest(data)
    h = new_hasher(algo)
    h.update(data)
    return f"{algo}:{h.hexdigest()}"


_SMALL = 256 * 1024


def digest_stream(f: BinaryIO, algo: str = "xxh128", size_hint: int | None = None) -> tuple[str, int]:
    """Hash a binary stream to its end; returns ``(digest, size)``.

    Reads with ``readinto`` into one reused buffer, so throughput is bounded by the read
    itself rather than by allocation (open files with ``buffering=0`` for best results).
    With a small ``size_hint`` (a stat of the file) it reads once instead: most workspace
    inputs are small, and allocating the buffer would cost more than the read.
    """
    if size_hint is not None and size_hint <= _SMALL:
        data = f.read(size_hint + 1)
        rest = f.read(CHUNK_SIZE) if len(data) > size_hint else b""
        if not rest:
            return digest_bytes(data, algo), len(data)
        h = new_hasher(algo)  # the file grew since it was stat'ed: hash it all
        h.update(data)
        h.update(rest)
        size = len(data) + len(rest)
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
            size += len(chunk)
        return f"{algo}:{h.hexdigest()}", size
    h = new_hasher(algo)
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    size = 0
    readinto = f.readinto
    update = h.update
    while True:
        n = readinto(buf)
        if not n:
            break
        update(view[:n])
        size += n
    return f"{algo}:{h.hexdigest()}", size


def parse_digest(d: str) -> tuple[str, str]:
    """Split a tagged digest into ``(algo, hex)``; ``ValueError`` if it is malformed."""
    if not isinstance(d, str):
        raise ValueError(f"digest must be a string, got {type(d).__name__}")
    algo, sep, hexpart = d.partition(":")
    if not sep or algo not in _HEX_LEN:
        raise ValueError(f"bad digest {d!r}: expected '<algo>:<hex>' with algo in {ALGORITHMS}")
    if len(hexpart) != _HEX_LEN[algo] or not _HEX_CHARS.issuperset(hexpart):
        raise ValueError(f"bad digest {d!r}: {algo} needs {_HEX_LEN[algo]} lowercase hex digits")
    return algo, hexpart


def algo_of(d: str) -> str:
    """The algorithm tag of a digest (validated)."""
    return parse_digest(d)[0]


def _where(path: str) -> str:
    return path or "(root)"


def _plain(obj: Any, path: str, active: set[int]) -> Any:
    """A copy of ``obj`` made of exact built-in JSON types, or UnhashableError."""
    # bool before int: bool is an int subclass but must stay a JSON boolean.
    if obj is None or obj is True or obj is False:
        return obj
    # Subclasses (StrEnum, IntEnum) are reduced to their plain value, never to str(obj).
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, int):
        return int.__int__(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise UnhashableError(f"{_where(path)}: cannot hash a non-finite float ({obj!r})")
        return float.__float__(obj)
    if isinstance(obj, (list, tuple, dict)):
        if id(obj) in active:
            raise UnhashableError(f"{_where(path)}: cannot hash a circular reference")
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                out = {}
                for k, v in obj.items():
                    if not isinstance(k, str):
                        raise UnhashableError(
                            f"{_where(path)}: cannot hash a dict key of type "
                            f"{type(k).__name__} ({k!r}); keys must be strings"
                        )
                    out[str.__str__(k)] = _plain(v, f"{path}.{k}" if path else k, active)
                return out
            return [_plain(v, f"{path}[{i}]", active) for i, v in enumerate(obj)]
        finally:
            active.discard(id(obj))
    raise UnhashableError(f"{_where(path)}: cannot hash a value of type {type(obj).__name__}")


def _find_bad_text(obj: Any, path: str) -> str | None:
    """Location of the first string that is not encodable as UTF-8 (lone surrogates)."""
    items: list[tuple[str, Any]] = []
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return _where(path)
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            sub = f"{path}.{k}" if path else k
            try:
                k.encode("utf-8")
            except UnicodeEncodeError:
                return _where(path) + " (a key)"
            items.append((sub, v))
    elif isinstance(obj, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
    for sub, v in items:
        found = _find_bad_text(v, sub)
        if found:
            return found
    return None


def canonical_json(obj: Any) -> bytes:
    """Canonical UTF-8 JSON of a plain JSON value (sorted keys, no spaces).

    Accepts None, bool, int, finite float, str, list, tuple (encoded as a list) and dict
    with str keys, recursively. Anything else raises ``UnhashableError`` naming the
    location, e.g. ``inputs.attrs.tags: cannot hash a value of type set``.
    """
    plain = _plain(obj, "", set())
    text = json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        where = _find_bad_text(plain, "") or "(root)"
        raise UnhashableError(f"{where}: cannot hash a string that is not valid UTF-8") from None


def digest_json(obj: Any, algo: str = "xxh128") -> str:
    """The digest of ``canonical_json(obj)``."""
    return digest_bytes(canonical_json(obj), algo)


def file_digest(blob_digest: str, executable: bool) -> str:
    """The key digest of one workspace file: its bytes (blob digest) plus its executable bit.

    A plain string concatenation hashed once: this runs for every input of every action on
    every build, so it avoids the canonical-JSON walk.
    """
    algo = algo_of(blob_digest)
    return digest_bytes(f"file\0{blob_digest}\0{'x' if executable else '-'}".encode(), algo)
