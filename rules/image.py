"""``image``: a sandbox image built from a recipe; its output is a CAS tree (``tree``).

Only the ``rootfs`` builder exists so far (directory images for the local provider). The key
holds the recipe bytes, every file it copies, the base image's digest, the builder and its
version, and the declared platform.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Literal

from alebuild.core.rule import File, LabelRef, Output, Rule, Spec
from alebuild.imaging.rootfs import BUILDER_VERSION, build_rootfs, load_recipe

__all__ = ["Image", "ImageSpec", "materialized_image"]


class ImageSpec(Spec):
    builder: Literal["rootfs"] = "rootfs"
    recipe: str
    base: LabelRef | None = None
    platform: str = "linux/amd64"


class Image(Rule):
    kind = "image"
    Spec = ImageSpec

    def _recipe(self, target, root: Path):
        rel = f"{target.label.package}/{target.spec.recipe}".lstrip("/")
        return load_recipe(root / rel, rel)

    def inputs(self, target, ctx) -> dict[str, Any]:
        recipe = self._recipe(target, ctx.root)
        pkg_dir = recipe.path.parent
        return {
            "builder": BUILDER_VERSION,
            "recipe": File(recipe.path),
            "copied": {p.relative_to(pkg_dir).as_posix(): File(p) for p in recipe.sources()},
        }

    async def run(self, target, ctx) -> Output:
        recipe = self._recipe(target, ctx.root)
        work = ctx.scratch() / "rootfs"
        base = None
        if target.spec.base is not None:
            base = ctx.scratch() / "base"
            ctx.materialize(ctx.dep(target.spec.base).outputs["tree"], base)
        build_rootfs(recipe, work, base)
        digest = ctx.store_tree(work, modes="full")
        ctx.services["counters"]["images_built"] += 1
        return Output(outputs={"tree": digest}, value={"builder": BUILDER_VERSION})


def materialized_image(services: dict[str, Any], cas: Any, digest: str) -> Path:
    """A read-only host copy of an image tree, made once per digest and reused.

    Built under a unique temporary name and renamed into place, so two builds sharing
    the cache can race here safely: the loser discards its copy.
    """
    base = Path(services["cache_dir"]) / "images"
    dest = base / digest.replace(":", "-")
    if (dest / ".complete").exists():
        return dest / "root"
    tmp = base / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}"
    cas.materialize(digest, tmp / "root")
    (tmp / ".complete").write_text(digest)
    try:
        tmp.rename(dest)
    except OSError:  # another build finished it first (or left a broken one: replace it)
        if not (dest / ".complete").exists():
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest / "root"
