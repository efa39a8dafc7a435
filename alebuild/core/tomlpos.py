"""Line numbers for TOML documents, for error messages only.

``tomllib`` reports no positions, so ``TomlPositions`` scans the text once and maps
*document paths* to the line that introduced them. A path is a tuple of keys and
array-of-tables indices as they appear in the parsed document:

- ``("genrule", 1)``: the header of the second ``[[genrule]]`` entry;
- ``("genrule", 1, "srcs")``: the ``srcs = ...`` line inside that entry;
- ``("genrule", 1, "config", "x")``: ``x`` inside ``[genrule.config]`` or ``config.x = ...``;
- ``("workspace", "remote", 0, "url")``: ``url`` inside the first ``[[workspace.remote]]``.

``line(path)`` returns the line of the longest known prefix of ``path`` (so a pydantic
location deeper than any key, such as ``("srcs", 2)``, falls back to the ``srcs`` line and
a missing field falls back to the entry header). The scan is only done when an error is
raised, so it favours clarity over speed.

Also here: turning tomllib's decode error and pydantic locations into message parts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from typing import Any

from alebuild.core.errors import UserError

__all__ = ["TomlPositions", "toml_decode_error", "format_loc", "trim_loc"]

_BARE = re.compile(r"[A-Za-z0-9_\-]+")
_DECODE_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse_key(text: str, i: int) -> tuple[list[str], int] | None:
    """Parse a (dotted, possibly quoted) key starting at ``text[i]``; None if there is none."""
    parts: list[str] = []
    n = len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return None
        if text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            if end < 0:
                return None
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                return None
            parts.append(m.group())
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        return parts, i


class _ValueScanner:
    """Tracks open brackets and multi-line strings across lines of a value."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string: str | None = None  # '"""' or "'''" while inside a multi-line string

    def busy(self) -> bool:
        return self.depth > 0 or self.in_string is not None

    def feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            if self.in_string:
                end = text.find(self.in_string, i)
                if end < 0:
                    return
                self.in_string = None
                i = end + 3
                continue
            c = text[i]
            if c == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.in_string = text[i : i + 3]
                i += 3
            elif c in "\"'":
                i += 1
                while i < n and text[i] != c:
                    i += 2 if (c == '"' and text[i] == "\\") else 1
                i += 1
            else:
                if c in "[{":
                    self.depth += 1
                elif c in "]}":
                    self.depth -= 1
                i += 1


class TomlPositions:
    """Document path -> 1-based line, computed from the text of a TOML file."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[Any, ...], int] = {}
        self._arrays: dict[tuple[Any, ...], int] = {}  # array-of-tables path -> entry count
        self._scan(text)

    def _resolve(self, parts: Sequence[str]) -> tuple[Any, ...]:
        """Insert the current index after every part that names an array of tables."""
        out: list[Any] = []
        for part in parts:
            out.append(part)
            count = self._arrays.get(tuple(out))
            if count:
                out.append(count - 1)
        return tuple(out)

    def _scan(self, text: str) -> None:
        table: tuple[Any, ...] = ()
        value = _ValueScanner()
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if value.busy():
                value.feed(raw)
                continue
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("[["):
                parsed = _parse_key(stripped, 2)
                if parsed:
                    prefix = self._resolve(parsed[0][:-1]) + (parsed[0][-1],)
                    self._arrays[prefix] = self._arrays.get(prefix, 0) + 1
                    table = prefix + (self._arrays[prefix] - 1,)
                    self._lines.setdefault(table, lineno)
                continue
            if stripped.startswith("["):
                parsed = _parse_key(stripped, 1)
                if parsed:
                    table = self._resolve(parsed[0])
                    self._lines.setdefault(table, lineno)
                continue
            parsed = _parse_key(raw, 0)
            if parsed and parsed[1] < len(raw) and raw[parsed[1]] == "=":
                keys = parsed[0]
                for k in range(1, len(keys) + 1):
                    self._lines.setdefault(table + tuple(keys[:k]), lineno)
                value.feed(raw[parsed[1] + 1 :])

    def line(self, path: Sequence[Any], default: int = 0) -> int:
        """Line of the longest known prefix of ``path``; ``default`` if none is known."""
        key = tuple(path)
        while key:
            found = self._lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return default


def toml_decode_error(file: str, exc: tomllib.TOMLDecodeError) -> UserError:
    """A UserError for malformed TOML naming the file and tomllib's line and column."""
    msg = str(exc)
    m = _DECODE_POS.search(msg)
    line = int(m.group(1)) if m else None
    return UserError(f"invalid TOML: {msg}", file=file, line=line)


def trim_loc(loc: Sequence[Any], data: Any) -> tuple[Any, ...]:
    """Cut a pydantic error location down to the part that exists in the raw ``data``.

    Union members add synthetic parts (``"is-instance[Label]"``); a missing field keeps
    its own name but nothing below it.
    """
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            out.append(part)
            if part not in node:
                break
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            break
    return tuple(out)


def format_loc(loc: Sequence[Any]) -> str:
    """``("srcs", 2, "x")`` -> ``srcs[2].x``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
