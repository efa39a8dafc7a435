"""The Provider/Sandbox protocol every sandbox backend implements.

A ``Provider`` hands out ``Sandbox`` objects through an ``async with`` (acquire on enter,
release on exit, always, also on cancellation). A ``Sandbox`` runs commands and moves files;
every path given to it is a *canonical sandbox path* (what the task sees, e.g.
``/media/user/data/agenthle/<domain>/<task>/base/output``), never a host path.

Six methods are abstract (``exec``, ``read_bytes``, ``write_bytes``, ``list_dir``,
``remove``, ``kill_all``); the rest have portable defaults built on ``exec`` (``test``,
``mkdir -p`` and ``tar`` streams) that fast providers override with direct I/O.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from alebuild.cache.tree import TreeTooLarge
from alebuild.core.errors import InfraError

__all__ = [
    "IMAGE_MOUNT",
    "DEFAULT_TASK_ROOT",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILES",
    "MODE_MASK",
    "ExecResult",
    "SandboxSpec",
    "Sandbox",
    "Provider",
    "TreeTooLarge",
]

IMAGE_MOUNT = "/opt/alebuild/image"
DEFAULT_TASK_ROOT = "/media/user/data/agenthle"
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_FILES = 100_000
# Modes copied across the sandbox boundary: permission bits and sticky, never setuid/setgid
# (an agent must not be able to plant a setuid file in the host cache).
MODE_MASK = 0o1777


@dataclass(frozen=True)
class ExecResult:
    """What ``Sandbox.exec`` returns. ``timed_out`` implies ``returncode == -9``."""

    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


@dataclass(frozen=True)
class SandboxSpec:
    """What to provision.

    ``image_dir``: a rootfs tree on the host, mounted read-only at ``IMAGE_MOUNT`` with its
    ``bin/`` first on PATH. ``network``: outbound network allowed. ``build_id`` labels the
    sandbox so ``Provider.gc`` finds leaks. ``machine``: machine type etc. (informational for
    local). ``task_root``: the canonical path where the sandbox's data dir is visible.
    """

    image_dir: Path | None = None
    network: bool = False
    build_id: str = ""
    machine: Mapping = field(default_factory=dict)
    task_root: str = DEFAULT_TASK_ROOT


class Sandbox(ABC):
    """One provisioned machine. Paths are canonical sandbox paths (absolute, POSIX)."""

    isolation: str = "none"

    @abstractmethod
    async def exec(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` with a clean environment plus ``env``; never raises for a timeout.

        On timeout the whole process tree is killed and ``ExecResult(-9, ..., timed_out=True)``
        is returned. Transport trouble raises ``InfraError``.
        """

    @abstractmethod
    async def read_bytes(self, path: str) -> bytes:
        """The bytes of a file (``FileNotFoundError`` if missing)."""

    @abstractmethod
    async def write_bytes(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Create or replace a file, creating parent directories."""

    @abstractmethod
    async def list_dir(self, path: str) -> list[str]:
        """Sorted entry names of a directory."""

    @abstractmethod
    async def remove(self, path: str) -> None:
        """Delete a file, link or whole tree; a missing path is not an error."""

    @abstractmethod
    async def kill_all(self) -> None:
        """Kill every process started in this sandbox (also background ones) and wait."""

    # ---- defaults built on exec: correct everywhere, overridden where I/O is direct ----

    async def _check(self, argv: list[str], what: str, stdin: bytes | None = None) -> bytes:
        res = await self.exec(argv, stdin=stdin)
        if res.returncode != 0:
            raise InfraError(
                f"{what} failed ({res.returncode}): {res.stderr.decode(errors='replace')}"
            )
        return res.stdout

    async def exists(self, path: str) -> bool:
        """True if ``path`` exists (links followed)."""
        return (await self.exec(["test", "-e", path])).returncode == 0

    async def is_dir(self, path: str) -> bool:
        """True if ``path`` is a directory (links followed)."""
        return (await self.exec(["test", "-d", path])).returncode == 0

    async def mkdir(self, path: str) -> None:
        """Create a directory and its parents; existing is fine."""
        await self._check(["mkdir", "-p", path], f"mkdir {path}")

    async def put_tree(self, local_dir: Path, path: str) -> None:
        """Copy a host tree into ``path`` byte-exact, modes kept, symlinks as links."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(os.listdir(local_dir)):
                tar.add(os.path.join(local_dir, name), arcname=name, recursive=True)
        await self.mkdir(path)
        await self._check(["tar", "-C", path, "-xpf", "-"], f"put_tree {path}", buf.getvalue())

    async def get_tree(
        self,
        path: str,
        local_dir: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
        exclude: Callable[[str], bool] | None = None,
    ) -> None:
        """Copy the tree at ``path`` out to ``local_dir``; symlinks stay links, never followed.

        ``exclude(rel_posix_path)`` true skips an entry (and a directory's contents). More than
        ``max_files`` entries or ``max_bytes`` of file data raises ``TreeTooLarge``.
        """
        data = await self._check(["tar", "-C", path, "-cf", "-", "."], f"get_tree {path}")
        _extract_tar(data, Path(local_dir), max_bytes, max_files, exclude)


def _extract_tar(data: bytes, dest: Path, max_bytes: int, max_files: int, exclude) -> None:
    """Extract a tar stream from a sandbox safely: no absolute names, no ``..``, caps."""
    dest.mkdir(parents=True, exist_ok=True)
    files = total = 0
    skipped: set[str] = set()
    links: set[str] = set()
    dir_modes: list[tuple[Path, int]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar:
            rel = posixpath.normpath(m.name)
            if rel == ".":
                continue
            if rel.startswith("/") or rel == ".." or rel.startswith("../"):
                raise PermissionError(f"tar entry escapes the tree: {m.name!r}")
            parents = [rel[:i] for i, c in enumerate(rel) if c == "/"]
            if rel in skipped or any(p in skipped for p in parents):
                continue
            if any(p in links for p in parents):
                # a later entry under an earlier symlink would write through it onto the host
                raise PermissionError(f"tar entry below a symlink: {m.name!r}")
            if exclude is not None and exclude(rel):
                skipped.add(rel)
                continue
            files += 1
            total += m.size if m.isfile() else 0
            if files > max_files or total > max_bytes:
                raise TreeTooLarge(f"tree exceeds {max_files} entries or {max_bytes} bytes")
            target = dest / rel
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                dir_modes.append((target, m.mode & MODE_MASK))
            elif m.issym():
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(m.linkname, target)
                links.add(rel)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(src.read())
                os.chmod(target, m.mode & MODE_MASK)
            # hard links, devices and fifos are not content: skipped
    for d, mode in reversed(dir_modes):
        os.chmod(d, mode)


class Provider(ABC):
    """A source of sandboxes, found by ``name`` in ``alebuild.sandbox.registry``."""

    name: ClassVar[str]

    @abstractmethod
    def sandbox(self, spec: SandboxSpec) -> AbstractAsyncContextManager[Sandbox]:
        """Acquire on enter; release on exit always (error, cancellation). ``InfraError`` on
        provisioning trouble."""

    async def gc(self, build_id_prefix: str | None = None) -> list[str]:
        """Delete sandboxes leaked by crashed builds (all, or those whose build id starts with
        the prefix); returns what was deleted. Default: nothing to collect."""
        return []
