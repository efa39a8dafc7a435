"""The ``rootfs`` builder: a directory image made from a TOML recipe.

Recipe (paths relative to the recipe's folder)::

    [[copy]]
    src = "bin/csvtool"
    dest = "bin/csvtool"
    mode = "0755"          # optional; default keeps the executable bit

    [[run]]
    cmd = "mkdir -p share && echo ok > share/marker"   # sh, cwd = the image root

The result is a directory tree stored in the CAS; the local provider mounts it read-only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from alebuild.core.errors import UserError

__all__ = ["RootfsRecipe", "load_recipe", "build_rootfs", "BUILDER_VERSION"]

BUILDER_VERSION = "rootfs-1"


@dataclass(frozen=True)
class CopyStep:
    src: str
    dest: str
    mode: int | None


@dataclass(frozen=True)
class RootfsRecipe:
    path: Path
    copies: tuple[CopyStep, ...]
    runs: tuple[str, ...]

    def sources(self) -> list[Path]:
        return [self.path.parent / c.src for c in self.copies]


def load_recipe(path: Path, display: str) -> RootfsRecipe:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"image recipe {display} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"malformed recipe: {exc}", file=display) from None
    unknown = set(data) - {"copy", "run"}
    if unknown:
        raise UserError(f"unknown recipe keys {sorted(unknown)}; allowed: copy, run", file=display)
    copies = []
    for i, step in enumerate(data.get("copy", [])):
        if set(step) - {"src", "dest", "mode"} or "src" not in step:
            raise UserError("copy steps take src, dest, mode", file=display, field=f"copy[{i}]")
        src = step["src"]
        if Path(src).is_absolute() or ".." in Path(src).parts:
            raise UserError("copy src must stay inside the recipe folder", file=display, field=f"copy[{i}].src")
        if not (path.parent / src).is_file():
            raise UserError(f"copy source {src!r} does not exist", file=display, field=f"copy[{i}].src")
        mode = int(step["mode"], 8) if isinstance(step.get("mode"), str) else step.get("mode")
        copies.append(CopyStep(src, step.get("dest", src), mode))
    runs = []
    for i, step in enumerate(data.get("run", [])):
        if not isinstance(step, dict) or set(step) != {"cmd"}:
            raise UserError("run steps take exactly cmd", file=display, field=f"run[{i}]")
        runs.append(step["cmd"])
    return RootfsRecipe(path, tuple(copies), tuple(runs))


def build_rootfs(recipe: RootfsRecipe, dest: Path, base: Path | None = None) -> None:
    """Build the image into ``dest`` (which must not exist); ``base`` is copied first."""
    if base is not None:
        shutil.copytree(base, dest, symlinks=True)
    else:
        dest.mkdir(parents=True)
    for step in recipe.copies:
        target = dest / step.dest
        if dest.resolve() not in target.resolve().parents:
            raise UserError(f"copy dest {step.dest!r} leaves the image root", file=str(recipe.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        src = recipe.path.parent / step.src
        shutil.copyfile(src, target)
        mode = step.mode if step.mode is not None else (0o755 if os.access(src, os.X_OK) else 0o644)
        os.chmod(target, mode)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(dest), "LANG": "C.UTF-8",
           "IMAGE_ROOT": str(dest)}
    for cmd in recipe.runs:
        proc = subprocess.run(["/bin/sh", "-c", cmd], cwd=dest, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"recipe step {cmd!r} exited {proc.returncode}: {proc.stderr[-1000:]}")
