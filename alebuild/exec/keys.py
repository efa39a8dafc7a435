"""Keyfiles: the canonical JSON whose digest is an action key, and the reasons two differ.

keyfile = {schema, kind, rule_version, inputs: {attrs, deps, <rule inputs>}}.
``attrs`` holds every keyed spec field; ``deps`` the *output digests* of dependencies (so a
dependency rebuilt to identical bytes changes nothing: early cutoff); the rest are the rule's
declared inputs with files, trees and blobs replaced by their digests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel

from alebuild.cache.digest import UnhashableError, digest_bytes, file_digest
from alebuild.cache.statcache import StatCache, hash_file
from alebuild.cache.tree import hash_tree
from alebuild.core.errors import UserError
from alebuild.core.labels import Label
from alebuild.core.rule import Blob, File, LoadContext, Tree
from alebuild.core.target import Target

__all__ = ["KEY_SCHEMA", "InputHasher", "make_keyfile", "key_of", "diff_keyfiles", "reasons"]

KEY_SCHEMA = 1


class InputHasher:
    """Turns File/Tree/Blob inputs into digests, re-reading only files whose stat changed."""

    def __init__(self, algo: str, statcache: StatCache | None) -> None:
        self.algo = algo
        self.statcache = statcache
        self._trees: dict[str, str] = {}

    def file(self, f: File) -> str:
        blob, executable, _ = hash_file(f.path, self.algo, self.statcache)
        return file_digest(blob, executable)

    def tree(self, t: Tree) -> str:
        path = str(t.path)
        if path not in self._trees:
            self._trees[path] = hash_tree(t.path, self.algo, self.statcache, modes="exec").digest
        return self._trees[path]

    def resolve(self, value: Any, where: str) -> Any:
        """Replace inputs by digests and specs by plain JSON; refuse anything unhashable."""
        if isinstance(value, File):
            return self.file(value)
        if isinstance(value, Tree):
            return self.tree(value)
        if isinstance(value, Blob):
            return digest_bytes(value.data, self.algo)
        return to_json(value, where)


def to_json(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Label):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return {f: to_json(getattr(value, f), f"{where}.{f}") for f in type(value).model_fields}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UnhashableError(f"{where}: cannot hash a mapping key of type {type(k).__name__}")
            out[k] = to_json(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    # Sets, paths, bytes, objects: hashing them would be guesswork, so refuse (keys are total).
    raise UnhashableError(f"{where}: cannot hash a value of type {type(value).__name__}")


def make_keyfile(
    target: Target,
    dep_digests: Mapping[Label, str],
    ctx: LoadContext,
    hasher: InputHasher,
) -> dict[str, Any]:
    spec = target.spec
    attrs = {f: to_json(getattr(spec, f), f"{target.kind}.{f}") for f in spec.keyed_fields()}
    inputs: dict[str, Any] = {
        "attrs": attrs,
        "deps": {str(label): dep_digests[label] for label in sorted(dep_digests)},
    }
    for name, value in target.rule.inputs(target, ctx).items():
        if name in inputs:
            raise ValueError(f"rule {target.kind}: input name {name!r} is reserved")
        try:
            inputs[name] = _resolve_nested(value, f"inputs.{name}", hasher)
        except FileNotFoundError as exc:
            missing = os.path.relpath(exc.filename, ctx.root) if exc.filename else "?"
            raise UserError(
                f"input file {missing} does not exist", file=target.file, line=target.line,
                field=f"{target.label} {name}",
            ) from None
    return {
        "schema": KEY_SCHEMA,
        "kind": target.kind,
        "rule_version": target.rule.version,
        "inputs": inputs,
    }


def _resolve_nested(value: Any, where: str, hasher: InputHasher) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, BaseModel):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UnhashableError(f"{where}: cannot hash a mapping key of type {type(k).__name__}")
            out[k] = _resolve_nested(v, f"{where}.{k}", hasher)
        return out
    if isinstance(value, list | tuple):
        return [_resolve_nested(v, f"{where}[{i}]", hasher) for i, v in enumerate(value)]
    return hasher.resolve(value, where)


def key_of(keyfile: Mapping[str, Any], algo: str) -> str:
    """The action key. Keyfiles are plain JSON by construction (``to_json`` refused anything
    else), so they are serialised directly rather than re-validated (a hot path)."""
    text = json.dumps(keyfile, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return digest_bytes(text.encode("utf-8"), algo)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else k, out)
    else:
        out[prefix] = value


def diff_keyfiles(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Field-by-field differences as (dotted path, old value, new value); absent = None."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(dict(old), "", a)
    _flatten(dict(new), "", b)
    missing = object()
    out = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, missing), b.get(path, missing)
        if va != vb:
            out.append((path, None if va is missing else va, None if vb is missing else vb))
    return out


def reasons(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    kind_of: Callable[[], str] | None = None,
) -> list[str]:
    """Named reasons an action is not a hit: ``new``, ``field_changed: agent.version``, ...

    Reasons describe the difference from the last keyfile stored for the same label.
    """
    if old is None:
        return ["new"]
    kind = new.get("kind", "")
    out: list[str] = []
    for path, _, _ in diff_keyfiles(old, new):
        if path == "rule_version":
            out.append("rule_version_changed")
        elif path.startswith("inputs.attrs."):
            out.append(f"field_changed: {kind}.{path[len('inputs.attrs.'):]}")
        elif path.startswith("inputs.deps."):
            out.append(f"dep_changed: {path[len('inputs.deps.'):]}")
        elif path.startswith("inputs."):
            out.append(f"input_changed: {path[len('inputs.'):]}")
        else:
            out.append(f"changed: {path}")
    # A dependency-digest key like "inputs.deps.//a:b" is flattened on '.', which labels may
    # contain; keep each reason once.
    seen: set[str] = set()
    return [r for r in out if not (r in seen or seen.add(r))] or ["cache_miss"]
