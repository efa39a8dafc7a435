"""A loaded target: a label, its kind's rule and validated spec, and where it was declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alebuild.core.labels import Label

if TYPE_CHECKING:
    from alebuild.core.rule import Rule, Spec

__all__ = ["Target"]


@dataclass(frozen=True, eq=False)
class Target:
    label: Label
    kind: str
    spec: Spec
    rule: Rule
    file: str  # workspace-relative path of the BUILD.toml (or the generating target's)
    line: int
    generated_by: Label | None = None
    deps: tuple[Label, ...] = field(default=())

    def __repr__(self) -> str:
        return f"<{self.kind} {self.label}>"
