"""The workspace root and its ``[workspace]`` settings in the root BUILD.toml.

```toml
[workspace]
digest_function = "xxh128"     # or "sha256" for caches shared with untrusted parties
cache_dir = "cache"
out_dir = "out"
ignore = ["scratch"]           # extra folder names never scanned for packages

[[workspace.remote]]
url = "gs://team-bucket/alebuild"
visibility = "private"
```
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from alebuild.core.errors import UserError
from alebuild.core.tomlpos import TomlPositions, format_loc, toml_decode_error, trim_loc

__all__ = [
    "RemoteConfig",
    "WorkspaceConfig",
    "find_root",
    "load_workspace_config",
    "has_workspace_table",
    "walk_packages",
    "BUILD_FILE",
]

BUILD_FILE = "BUILD.toml"
# `[workspace]`, `[workspace.x]` or `[[workspace.remote]]` at the start of a line: any of
# them makes the file a workspace root. A text check, so a broken BUILD.toml in a
# subfolder cannot break finding the root.
_SKIP_NAMES = frozenset({"__pycache__", "node_modules", ".venv", "venv"})
_PACKAGE_SEGMENT = re.compile(r"[A-Za-z0-9_.+\-@=]+")
_WORKSPACE_HEADER = re.compile(r"^[ \t]*\[\[?[ \t]*[\"']?workspace[\"']?[ \t]*[\].]", re.M)


class RemoteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    visibility: Literal["public", "private"] = "public"
    read: bool = True
    write: bool = True


class WorkspaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest_function: Literal["xxh128", "sha256"] = "xxh128"
    cache_dir: str = "cache"
    out_dir: str = "out"
    remote: list[RemoteConfig] = []
    ignore: list[str] = []


def has_workspace_table(text: str) -> bool:
    """True when BUILD.toml text declares a top-level ``[workspace]`` table."""
    return _WORKSPACE_HEADER.search(text) is not None


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` whose BUILD.toml has a ``[workspace]`` table."""
    start = start.resolve()
    for directory in (start, *start.parents):
        build = directory / BUILD_FILE
        try:
            text = build.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        if has_workspace_table(text):
            return directory
    raise UserError(f"no workspace: no {BUILD_FILE} with a [workspace] table at or above {start}")


def load_workspace_config(root: Path) -> WorkspaceConfig:
    """Parse and validate the ``[workspace]`` table of ``root/BUILD.toml``.

    Errors are UserErrors naming ``BUILD.toml:<line>`` and the field (``workspace.remote[0].url``).
    """
    path = root / BUILD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no {BUILD_FILE} in the workspace root {root}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_decode_error(BUILD_FILE, exc) from None
    data = doc.get("workspace", {})
    if not isinstance(data, dict):
        line = TomlPositions(text).line(("workspace",))
        raise UserError(
            "'workspace' must be a table ([workspace])", file=BUILD_FILE, line=line or None
        )
    try:
        return WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = trim_loc(err["loc"], data)
        line = TomlPositions(text).line(("workspace", *loc))
        raise UserError(
            err["msg"],
            file=BUILD_FILE,
            line=line or None,
            field=format_loc(("workspace", *loc)),
        ) from None


def walk_packages(
    root: Path,
    config: WorkspaceConfig,
    under: str = "",
    recursive: bool = True,
    claims: Callable[[str, Path], bool] | None = None,
) -> Iterator[str]:
    """Packages at or below ``under``, in sorted pre-order (just ``under`` if not recursive).

    A folder is a package when it holds a BUILD.toml, or when ``claims(package, path)``
    says so (implicit packages such as ALE task folders). An implicit package is a leaf:
    its subfolders hold task data, never packages, and are not walked.

    Never looks into dot folders, ``__pycache__``, ``node_modules``, virtualenvs, the cache
    and out dirs, ``config.ignore`` names, folders whose name cannot be a package segment
    (no label could name them, e.g. "My Documents"), or nested workspaces (a BUILD.toml
    with [workspace] below the root). Symlinked folders are not followed.
    """
    skip_names = _SKIP_NAMES | set(config.ignore)
    skip_paths = {p.strip("/") for p in (config.cache_dir, config.out_dir) if p.strip("/")}
    start = root / under if under else root
    if not start.is_dir():
        return
    stack = [(under, os.fspath(start))]
    while stack:
        package, path = stack.pop()
        has_build = False
        subdirs: list[str] = []
        prefix = package + "/" if package else ""
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    name = entry.name
                    if name == BUILD_FILE:
                        has_build = entry.is_file()
                    elif not (
                        name.startswith(".")
                        or name in skip_names
                        or prefix + name in skip_paths
                        or not _PACKAGE_SEGMENT.fullmatch(name)
                    ) and entry.is_dir(follow_symlinks=False):
                        subdirs.append(name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        if has_build:
            if package != under and _is_workspace_root(path):
                continue
            yield package
        elif claims is not None and claims(package, Path(path)):
            yield package
            continue
        if recursive:
            subdirs.sort(reverse=True)  # popped in ascending order
            stack.extend((prefix + n, os.path.join(path, n)) for n in subdirs)


def _is_workspace_root(path: str) -> bool:
    try:
        with open(os.path.join(path, BUILD_FILE), encoding="utf-8") as f:
            return has_workspace_table(f.read())
    except OSError:
        return False
