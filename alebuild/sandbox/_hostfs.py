"""Host-side file access for sandboxes whose files are host files (the local provider).

``HostFS`` maps canonical sandbox paths to host paths through a small table of roots and
resolves symlinks the way the sandboxed process would see them, so a link planted by an
agent (``output/x -> /etc/passwd``, ``../..``) can never make the host read or write outside
the sandbox: such paths raise ``PermissionError``. Tree copies never follow symlinks.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from alebuild.sandbox.base import MODE_MASK, TreeTooLarge

__all__ = ["HostFS", "copy_in", "copy_out", "rmtree_force"]

_MAX_LINKS = 40  # as the kernel's ELOOP limit


class HostFS:
    """``roots``: ``(canonical_root, host_dir, writable)``; relative paths are relative to
    ``cwd`` (the task root)."""

    def __init__(self, roots: list[tuple[str, Path, bool]], cwd: str) -> None:
        self._roots = sorted(roots, key=lambda r: len(r[0]), reverse=True)
        self._cwd = cwd

    def _map(self, canon: str) -> tuple[Path, bool, bool] | None:
        """``(host_path, writable, below_root)`` or None outside every root."""
        for croot, hdir, writable in self._roots:
            if canon == croot:
                return hdir, writable, False
            if canon.startswith(croot + "/"):
                return hdir / canon[len(croot) + 1 :], writable, True
        return None

    def _unmap_target(self, target: str) -> str:
        # none mode: a process saw host paths, so links may hold them; read them back.
        for croot, hdir, _ in self._roots:
            h = str(hdir)
            if target == h or target.startswith(h + "/"):
                return croot + target[len(h) :]
        return target

    def resolve(self, path: str, *, write: bool = False, follow: bool = True) -> Path:
        """The host path of canonical ``path``, symlinks resolved inside the sandbox.

        ``follow=False`` leaves a final symlink unresolved (for ``remove``). Raises
        ``PermissionError`` if the result lies outside every root, or in a read-only root
        when ``write``.
        """
        todo = posixpath.join(self._cwd, path).split("/")
        todo.reverse()
        done: list[str] = []
        links = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            done.append(name)
            if not todo and not follow:
                break
            mapped = self._map("/" + "/".join(done))
            if mapped is None or not mapped[2] or not mapped[0].is_symlink():
                continue  # outside the roots (an ancestor such as /media), a root, not a link
            links += 1
            if links > _MAX_LINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            target = self._unmap_target(os.readlink(mapped[0]))
            done.pop()
            if target.startswith("/"):
                done = []
            todo.extend(reversed(target.split("/")))
        canon = "/" + "/".join(done)
        mapped = self._map(canon)
        if mapped is None:
            raise PermissionError(errno.EACCES, "path resolves outside the sandbox", path)
        if write and not mapped[1]:
            raise PermissionError(errno.EROFS, "read-only part of the sandbox", path)
        return mapped[0]

    def read_bytes(self, path: str) -> bytes:
        return self.resolve(path).read_bytes()

    def write_bytes(self, path: str, data: bytes, mode: int | None) -> None:
        host = self.resolve(path, write=True)
        host.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(host, flags, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(host, mode & MODE_MASK)

    def list_dir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.resolve(path)))

    def remove(self, path: str) -> None:
        host = self.resolve(path, write=True, follow=False)
        if host.is_dir() and not host.is_symlink():
            rmtree_force(host)
        elif os.path.lexists(host):
            host.unlink()


def _clear(p: str) -> None:
    """Remove whatever is at ``p`` (a link is removed, never followed)."""
    if os.path.isdir(p) and not os.path.islink(p):
        rmtree_force(Path(p))
    elif os.path.lexists(p):
        os.unlink(p)


def _real_dir(p: str) -> None:
    # A symlink or file where a directory goes is replaced, so nothing is written through it.
    if os.path.islink(p) or (os.path.lexists(p) and not os.path.isdir(p)):
        os.unlink(p)
    if not os.path.isdir(p):
        os.mkdir(p, 0o700)


def copy_in(src: Path, dst: Path) -> None:
    """Copy host tree ``src`` onto ``dst``: contents byte-exact, modes kept, links as links."""
    _real_dir(str(dst))
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        d = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            _clear(d)
            os.symlink(os.readlink(entry.path), d)
        elif stat.S_ISDIR(st.st_mode):
            copy_in(Path(entry.path), Path(d))
        elif stat.S_ISREG(st.st_mode):
            _clear(d)
            shutil.copyfile(entry.path, d)
            os.chmod(d, st.st_mode & MODE_MASK)
    os.chmod(dst, os.stat(src).st_mode & MODE_MASK)


def copy_out(
    src: Path,
    dst: Path,
    max_bytes: int,
    max_files: int,
    exclude: Callable[[str], bool] | None,
) -> None:
    """Copy sandbox tree ``src`` to host ``dst``; symlinks copied as links, never followed.

    The caps are checked on a first walk, before anything is written: more than
    ``max_files`` entries or ``max_bytes`` of file data raises ``TreeTooLarge``. Special
    files (fifos, sockets, devices) are skipped.
    """
    if not src.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(src))
    plan: list[tuple[str, int, str]] = []  # rel, st_mode, source path or link target
    counts = [0, 0]

    def walk(abs_dir: str, rel_dir: str) -> None:
        for entry in sorted(os.scandir(abs_dir), key=lambda e: e.name):
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if exclude is not None and exclude(rel):
                continue
            st = entry.stat(follow_symlinks=False)
            counts[0] += 1
            if stat.S_ISREG(st.st_mode):
                counts[1] += st.st_size
            if counts[0] > max_files:
                raise TreeTooLarge(f"{src}: tree has more than {max_files} entries")
            if counts[1] > max_bytes:
                raise TreeTooLarge(f"{src}: tree holds more than {max_bytes} bytes")
            if stat.S_ISLNK(st.st_mode):
                plan.append((rel, st.st_mode, os.readlink(entry.path)))
            elif stat.S_ISDIR(st.st_mode):
                plan.append((rel, st.st_mode, ""))
                walk(entry.path, rel)
            elif stat.S_ISREG(st.st_mode):
                plan.append((rel, st.st_mode, entry.path))

    walk(str(src), "")
    dst.mkdir(parents=True, exist_ok=True)
    dirs: list[tuple[str, int]] = []
    for rel, mode, ref in plan:
        d = os.path.join(dst, rel)
        if stat.S_ISLNK(mode):
            _clear(d)
            os.symlink(ref, d)
        elif stat.S_ISDIR(mode):
            _real_dir(d)
            dirs.append((d, mode & MODE_MASK))
        else:
            _clear(d)
            shutil.copyfile(ref, d, follow_symlinks=False)
            os.chmod(d, mode & MODE_MASK)
    for d, mode in reversed(dirs):  # children first: a read-only dir is sealed last
        os.chmod(d, mode)


def rmtree_force(path: Path) -> None:
    """Delete a tree even if the sandbox made parts of it read-only; missing is fine."""

    def retry(func, p, exc) -> None:
        if isinstance(exc, FileNotFoundError):
            return
        if not isinstance(exc, PermissionError):
            raise exc
        os.chmod(os.path.dirname(p), 0o700)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, 0o700)
            shutil.rmtree(p, onexc=retry)
        else:
            func(p)

    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onexc=retry)
        else:
            os.unlink(path)
