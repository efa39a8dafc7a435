"""Result manifests: find one by its hash in any store, check it, render it.

A manifest is the canonical JSON an experiment stores; its digest is the published result
hash. Fetching by hash verifies the bytes, so a manifest found is the one published.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alebuild.cache.digest import parse_digest
from alebuild.core.errors import UserError

__all__ = ["load_manifest", "unit_table"]


def load_manifest(ws: Any, ref: str) -> tuple[str | None, dict[str, Any]]:
    """(hash, manifest) for a result hash, or (None, manifest) for a manifest file path.

    A file is a *claim* (its hash is not trusted); a hash is fetched from the local cache or
    any configured remote and verified.
    """
    path = Path(ref)
    if not ref.startswith(("xxh128:", "sha256:")) and path.is_file():
        return None, _parse(path.read_bytes(), ref)
    try:
        parse_digest(ref)
    except ValueError:
        raise UserError(f"{ref!r} is neither a result hash (xxh128:...) nor a manifest file") from None
    if not ws.cas.has(ref) and not (ws.tiers is not None and ws.tiers.fetch_blob(ref)):
        where = "the local cache" + (" or any remote" if ws.tiers is not None else " (no remote configured)")
        raise UserError(f"result {ref} is not in {where}", hint="pass --remote-cache URL")
    return ref, _parse(ws.cas.read_bytes(ref), ref)


def _parse(data: bytes, ref: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise UserError(f"{ref}: not a result manifest: {exc}") from None
    if not isinstance(manifest, dict) or not str(manifest.get("schema", "")).startswith("alebuild-result/"):
        raise UserError(f"{ref}: not a result manifest (no alebuild-result schema)")
    return manifest


def unit_table(units: list[dict[str, Any]]) -> str:
    lines = [f"{'agent':<12}{'task':<30}{'rep':>4}  {'outcome':<13}{'score':>7}"]
    for u in units:
        score = "-" if u.get("score") is None else f"{u['score']:.3f}"
        lines.append(f"{u['agent']:<12}{u['task']:<30}{u['replica']:>4}  {u['outcome']:<13}{score:>7}")
    return "\n".join(lines)
