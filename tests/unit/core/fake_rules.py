"""Test-only kinds and a tiny in-memory workspace builder for the core tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from alebuild.core import LabelRef, Loader, Registry, Rule, Spec, SrcRef, not_keyed
from alebuild.core.workspace import WorkspaceConfig


class LibSpec(Spec):
    srcs: list[SrcRef] = []
    deps: list[LabelRef] = []
    main: LabelRef | None = None
    count: int = 0
    doc: str = not_keyed("")


class Lib(Rule):
    kind = "lib"
    Spec = LibSpec


class MacroSpec(Spec):
    copies: int = 1
    dep: LabelRef | None = None
    extra: dict[str, Any] = {}


class Macro(Rule):
    """Expands into ``<name>/<i>`` lib targets, each depending on ``dep``."""

    kind = "macro"
    Spec = MacroSpec

    def expand(self, target, ctx):
        spec = target.spec
        out = []
        for i in range(spec.copies):
            entry = {"kind": "lib", "name": f"{spec.name}/{i}", **spec.extra}
            if spec.dep is not None:
                entry["deps"] = [str(spec.dep)]
            out.append(entry)
        return out


class PeekSpec(Spec):
    look: LabelRef


class Peek(Rule):
    """A macro that looks at another target while its package loads."""

    kind = "peek"
    Spec = PeekSpec

    def expand(self, target, ctx):
        ctx.target(target.spec.look)
        return []


class MarkerSpec(Spec):
    count: int = 0


class Marker(Rule):
    """Claims folders holding a MARKER file (like ALE task folders) without BUILD.toml."""

    kind = "marker"
    Spec = MarkerSpec

    @classmethod
    def implicit_targets(cls, directory: Path):
        if (directory / "MARKER").is_file():
            return [{"name": directory.name, "count": 1}]
        return None


def registry() -> Registry:
    reg = Registry()
    for cls in (Lib, Macro, Peek, Marker):
        reg.register(cls.kind, cls)
    return reg


ROOT = '[workspace]\ncache_dir = "cache"\n'


def workspace(tmp_path: Path, files: dict[str, str]) -> Loader:
    """Write ``files`` (path -> text, dedented) under tmp_path and return a Loader on it."""
    files = {"BUILD.toml": ROOT, **files}
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return Loader(tmp_path, registry(), WorkspaceConfig())
