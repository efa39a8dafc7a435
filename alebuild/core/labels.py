"""Labels (``//pkg:name``) and patterns (``//pkg/...``, ``//pkg:all``).

``//pkg`` means ``//pkg:<last segment of pkg>``; ``:name`` is relative to the current
package. Target names may contain ``/`` (generated targets such as
``//experiments:demo/claude/demo/hello/r0/run``); package paths may not contain ``:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alebuild.core.errors import UserError

__all__ = ["Label", "Pattern", "parse_pattern", "LabelError"]

_PKG_SEGMENT = re.compile(r"^[A-Za-z0-9_.+\-@=]+$")
_NAME = re.compile(r"^[A-Za-z0-9_.+\-@=/]+$")


class LabelError(UserError):
    """A malformed label; the loader adds file/line/field when it knows them."""


def _check_package(package: str, text: str) -> None:
    if package == "":
        return
    for seg in package.split("/"):
        if not _PKG_SEGMENT.match(seg) or seg in (".", ".."):
            raise LabelError(f"bad label {text!r}: package segment {seg!r} is not allowed")


def _check_name(name: str, text: str) -> None:
    if not name or not _NAME.match(name):
        raise LabelError(f"bad label {text!r}: target name {name!r} is not allowed")
    for seg in name.split("/"):
        if seg in ("", ".", ".."):
            raise LabelError(f"bad label {text!r}: target name {name!r} has an empty or dot segment")


@dataclass(frozen=True, order=True, slots=True)
class Label:
    package: str
    name: str

    def __str__(self) -> str:
        return f"//{self.package}:{self.name}"

    @classmethod
    def parse(cls, text: str, current_package: str | None = None) -> Label:
        """Parse an absolute (``//a/b:c``, ``//a/b``) or relative (``:c``) label."""
        if not isinstance(text, str) or not text:
            raise LabelError(f"bad label {text!r}: empty")
        if text.startswith(":"):
            if current_package is None:
                raise LabelError(f"bad label {text!r}: relative label outside a package")
            name = text[1:]
            _check_name(name, text)
            return cls(current_package, name)
        if not text.startswith("//"):
            raise LabelError(
                f"bad label {text!r}: labels start with '//' (absolute) or ':' (this package)"
            )
        body = text[2:]
        if ":" in body:
            package, name = body.split(":", 1)
        else:
            package, name = body, body.rsplit("/", 1)[-1]
            if not package:
                raise LabelError(f"bad label {text!r}: '//' alone names no target")
        if package.endswith("/") or package.startswith("/"):
            raise LabelError(f"bad label {text!r}: package path has a stray '/'")
        _check_package(package, text)
        _check_name(name, text)
        return cls(package, name)


@dataclass(frozen=True, slots=True)
class Pattern:
    """``//pkg/...`` (every target at or below pkg) or ``//pkg:all`` (every target in pkg)."""

    package: str
    recursive: bool

    def __str__(self) -> str:
        if self.recursive:
            return f"//{self.package}/..." if self.package else "//..."
        return f"//{self.package}:all"

    def matches_package(self, package: str) -> bool:
        if not self.recursive:
            return package == self.package
        return self.package == "" or package == self.package or package.startswith(self.package + "/")


def parse_pattern(text: str, current_package: str | None = None) -> Label | Pattern:
    if text.endswith("/...") or text == "//...":
        package = text[2:-4] if text != "//..." else ""
        if not text.startswith("//"):
            raise LabelError(f"bad pattern {text!r}: patterns start with '//'")
        _check_package(package.rstrip("/"), text)
        return Pattern(package.rstrip("/"), True)
    if text.endswith(":all"):
        label = Label.parse(text, current_package)
        return Pattern(label.package, False)
    return Label.parse(text, current_package)
