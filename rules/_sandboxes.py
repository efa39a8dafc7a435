"""What agent runs and grades share: acquiring a sandbox for a template and staging trees.

Providers are created once per build (kept in the build's ``services``) and found by name
through the provider registry. Sandboxes are acquired lazily inside an action, so a cached
run provisions nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alebuild.cache.digest import digest_bytes
from alebuild.sandbox.base import Sandbox, SandboxSpec
from alebuild.sandbox.registry import get_provider_class

__all__ = ["acquire", "stage_tree", "seed_for", "SandboxUse", "sandbox_use"]


class SandboxUse:
    """Provenance of one acquired sandbox (recorded in action meta, never keyed)."""

    def __init__(self, provider: str, machine: dict[str, Any]) -> None:
        self.provider = provider
        self.machine = machine
        self.isolation = ""
        self.seconds = 0.0

    def meta(self) -> dict[str, Any]:
        return {"provider": self.provider, "machine": self.machine, "isolation": self.isolation,
                "sandbox_seconds": round(self.seconds, 3)}


def sandbox_use(ctx: Any, template_label: Any) -> SandboxUse:
    """An empty provenance record for an action about to use ``template_label``."""
    template = ctx.services["loader"].target(template_label).spec
    return SandboxUse(template.provider, dict(template.machine))


def _provider(services: dict[str, Any], name: str) -> Any:
    providers = services.setdefault("providers", {})
    if name not in providers:
        cls = get_provider_class(name)
        cache = Path(services["cache_dir"])
        # The agent must see neither the cache (it holds hidden references), nor the
        # workspace (tasks/*/reference), nor the host user's home (cloud credentials, shell
        # history) through the read-only view of the host.
        hide = [cache, Path(services["loader"].root)]
        home = Path.home()
        if home != Path("/"):
            hide.append(home)
        providers[name] = cls(base_dir=cache / "sandboxes", hide=hide)
    return providers[name]


@contextlib.asynccontextmanager
async def acquire(
    ctx: Any, template_label: Any, image_digest: str | None, use: SandboxUse | None = None
) -> AsyncIterator[Sandbox]:
    """A fresh sandbox for the sandbox template ``template_label``; released on exit.

    ``use`` (if given) receives the provider, machine, isolation and seconds held.
    """
    from rules.image import materialized_image

    template = ctx.services["loader"].target(template_label).spec
    image_dir = None
    if image_digest:
        image_dir = materialized_image(ctx.services, ctx.services["cas"], image_digest)
    spec = SandboxSpec(
        image_dir=image_dir,
        network=template.network,
        build_id=ctx.build_id,
        machine=dict(template.machine),
    )
    t0 = time.monotonic()
    try:
        async with _provider(ctx.services, template.provider).sandbox(spec) as sbx:
            ctx.services["counters"]["sandboxes_provisioned"] += 1
            if use is not None:
                use.isolation = sbx.isolation
            yield sbx
    finally:
        if use is not None:
            use.seconds = time.monotonic() - t0


async def stage_tree(ctx: Any, sbx: Sandbox, digest: str, path: str) -> None:
    """Copy a CAS tree into the sandbox at ``path`` (byte-exact, modes kept)."""
    local = ctx.scratch() / "stage"
    ctx.materialize(digest, local)
    await sbx.put_tree(local, path)


def seed_for(key: str, phase: str) -> int:
    """A per-action, per-phase seed: replicas differ, reruns of the same key agree."""
    return int(digest_bytes(f"{key}/{phase}".encode(), "xxh128").split(":")[1][:16], 16)
