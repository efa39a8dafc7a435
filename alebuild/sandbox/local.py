"""The ``local`` provider: sandboxes are directories on this host.

Each sandbox is ``<base_dir>/<build_id>-<random>/`` holding ``root/`` (seen by the task at
``spec.task_root``) and ``tmp/`` (seen at ``/tmp``). With bubblewrap (isolation ``"bwrap"``)
every ``exec`` runs in fresh pid/ipc/uts(/net) namespaces over a read-only view of the
host, with the sandbox dirs bound at their canonical paths and the image at ``IMAGE_MOUNT``;
background processes die with the command's pid namespace. Without bubblewrap (isolation
``"none"``, recorded in run records) commands are plain subprocesses in their own session
with canonical paths rewritten to host paths in argv, env and cwd: no isolation at all.

File operations are direct host I/O in both modes (no process per call): paths are mapped
from canonical to host, symlinks resolved inside the sandbox's namespace, and anything that
resolves outside the sandbox's roots raises ``PermissionError``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

from alebuild.core.errors import InfraError
from alebuild.sandbox import _hostfs
from alebuild.sandbox.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FILES,
    IMAGE_MOUNT,
    ExecResult,
    Provider,
    Sandbox,
    SandboxSpec,
)

__all__ = ["LocalProvider", "LocalSandbox", "bwrap_available"]

_BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
_MARKER_ENV = "ALEBUILD_SANDBOX"  # lets kill_all/gc find processes that left our session
_MARKER_FILE = ".alebuild-sandbox.json"  # lets gc tell our leftovers from other dirs
_SPECIAL = ("proc", "dev", "tmp")  # mounted by bwrap itself


@functools.cache
def bwrap_available() -> bool:
    """True if ``bwrap`` is on PATH and can create the namespaces we use (memoised)."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    probe = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
             "--unshare-net", "--die-with-parent", "true"]  # fmt: skip
    try:
        res = subprocess.run(probe, capture_output=True, timeout=20, env={"PATH": _BASE_PATH})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def _first_existing_ancestor(path: str) -> str | None:
    """The deepest existing host ancestor of ``path`` if ``path`` itself is missing."""
    if os.path.isdir(path):
        return None
    p = os.path.dirname(path)
    while not os.path.isdir(p):
        p = os.path.dirname(p)
    return p


def _bwrap_prefix(exe: str, sbx: Path, spec: SandboxSpec, hide: Sequence[Path]) -> list[str]:
    """The bwrap argv up to ``--chdir``; computed once per sandbox."""
    args = [exe, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts"]  # fmt: skip
    if not spec.network:
        args.append("--unshare-net")
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]  # root in the sandbox must not remount the host rw
    targets = [spec.task_root] + ([IMAGE_MOUNT] if spec.image_dir else [])
    # A mount point can only be created on a tmpfs: shadow the deepest existing ancestor of a
    # missing target with one and re-bind that ancestor's entries into it.
    ancestors = sorted({a for t in targets if (a := _first_existing_ancestor(t))}, key=len)
    if "/" not in ancestors:
        args += ["--ro-bind", "/", "/"]
    for anc in ancestors:
        if anc != "/":
            args += ["--tmpfs", anc]
        for entry in sorted(os.scandir(anc), key=lambda e: e.name):
            if anc == "/" and entry.name in _SPECIAL:
                continue
            if entry.is_symlink():
                args += ["--symlink", os.readlink(entry.path), entry.path]
            else:
                args += ["--ro-bind", entry.path, entry.path]
    for h in hide:  # e.g. other sandboxes and the cache: never readable from inside
        if os.path.isdir(h):
            args += ["--tmpfs", str(h)]
    args += ["--dev", "/dev", "--proc", "/proc", "--bind", str(sbx / "tmp"), "/tmp"]
    for t, anc in zip(targets, map(_first_existing_ancestor, targets), strict=True):
        parts = t[len(anc) :].strip("/").split("/")[:-1] if anc else []
        for i in range(len(parts)):  # explicit --dir: bwrap would create parents 0700
            args += ["--dir", os.path.join(anc, *parts[: i + 1])]
    args += ["--bind", str(sbx / "root"), spec.task_root]
    if spec.image_dir:
        args += ["--ro-bind", str(spec.image_dir), IMAGE_MOUNT]
    return args


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _marked_pids(marker: str, host_dir: str | None) -> list[int]:
    """Pids whose environment carries ``ALEBUILD_SANDBOX=<marker>`` or ``=<marker>/...`` (or,
    if ``host_dir``, whose cwd lies in it): a sandbox's processes (marker = sandbox name) or
    one exec's (``<name>/<n>``), wherever they moved their session or process group."""
    exact = f"{_MARKER_ENV}={marker}".encode()
    below = exact + b"/"
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            hit = any(e == exact or e.startswith(below) for e in env)
            if not hit and host_dir:
                cwd = os.readlink(f"/proc/{entry}/cwd")
                hit = cwd == host_dir or cwd.startswith(host_dir + "/")
        except OSError:
            continue
        if hit:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


async def _kill_and_wait(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for _ in range(1000):  # bounded: SIGKILL lands within milliseconds
        pids = [p for p in pids if _alive(p)]
        if not pids:
            return
        await asyncio.sleep(0.005)


async def _kill_marked(marker: str, host_dir: str | None) -> None:
    """Kill every process carrying ``marker`` and wait for them; a few rounds, since a
    process may fork between the scan and the kill."""
    for _ in range(5):
        victims = await asyncio.to_thread(_marked_pids, marker, host_dir)
        if not victims:
            return
        await _kill_and_wait(victims)


class LocalSandbox(Sandbox):
    """A sandbox directory on this host; see the module docstring."""

    def __init__(self, host_dir: Path, spec: SandboxSpec, prefix: list[str] | None) -> None:
        self.host_dir = host_dir
        self.name = host_dir.name
        self.spec = spec
        self.isolation = "bwrap" if prefix else "none"
        self._prefix = prefix
        self._procs: set[asyncio.subprocess.Process] = set()
        self._seq = 0
        roots = [(spec.task_root, host_dir / "root", True), ("/tmp", host_dir / "tmp", True)]
        if spec.image_dir:
            roots.append((IMAGE_MOUNT, Path(spec.image_dir), False))
        self._fs = _hostfs.HostFS(roots, spec.task_root)
        # Without bwrap, canonical paths in argv/env/cwd become host paths: the task root,
        # the sandbox's own /tmp (where file operations put /tmp files) and the image.
        subst = {spec.task_root: str(host_dir / "root"), "/tmp": str(host_dir / "tmp")}
        if spec.image_dir:
            subst[IMAGE_MOUNT] = str(spec.image_dir)
        self._subst = subst
        alts = "|".join(re.escape(k) for k in sorted(subst, key=len, reverse=True))
        # Whole path components only: /var/tmp and /tmpfoo are left alone.
        self._subst_re = re.compile(rf"(?<![\w.\-/])(?:{alts})(?![\w.\-])")

    # ---- processes ----

    def _rewrite(self, s: str) -> str:
        return s if self._prefix else self._subst_re.sub(lambda m: self._subst[m.group(0)], s)

    def _env(self, env: Mapping[str, str] | None, marker: str) -> dict[str, str]:
        if self._prefix:
            full = {"PATH": f"{IMAGE_MOUNT}/bin:{_BASE_PATH}", "HOME": "/tmp"}
        else:
            tmp = str(self.host_dir / "tmp")
            image_bin = f"{self.spec.image_dir}/bin:" if self.spec.image_dir else ""
            full = {"PATH": image_bin + _BASE_PATH, "HOME": tmp, "TMPDIR": tmp}
        full["LANG"] = "C.UTF-8"
        full.update({k: self._rewrite(v) for k, v in (env or {}).items()})
        full[_MARKER_ENV] = marker
        return full

    async def exec(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        if not argv:
            raise ValueError("exec: empty argv")
        cwd = cwd or self.spec.task_root
        self._seq += 1
        marker = f"{self.name}/{self._seq}"
        if self._prefix:
            cmd, host_cwd = [*self._prefix, "--chdir", cwd, "--", *argv], str(self.host_dir)
        else:
            cmd, host_cwd = [self._rewrite(a) for a in argv], self._rewrite(cwd)
        # Output goes to unlinked files, not pipes: a background process holding a pipe open
        # would otherwise keep exec from returning.
        with (
            tempfile.TemporaryFile(dir=self.host_dir) as out,
            tempfile.TemporaryFile(dir=self.host_dir) as err,
            tempfile.TemporaryFile(dir=self.host_dir) if stdin else nullcontext() as inp,
        ):
            if inp is not None:
                inp.write(stdin)
                inp.seek(0)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *cmd, stdin=subprocess.DEVNULL if inp is None else inp, stdout=out, stderr=err,
                    env=self._env(env, marker), cwd=host_cwd, start_new_session=True,
                )  # fmt: skip
            except OSError as e:  # none mode: a missing program or cwd, as a shell reports it
                code = 127 if isinstance(e, FileNotFoundError) else 126
                return ExecResult(code, b"", f"{e}\n".encode())
            self._procs.add(proc)
            timed_out = False
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                timed_out = True
            finally:
                if proc.returncode is None:  # timeout or cancellation: the whole tree goes
                    _killpg(proc.pid)
                    await proc.wait()
                    # bwrap's die-with-parent has a window right after start, and setsid
                    # escapes the group: finish with the exec's marker
                    await _kill_marked(marker, None)
                self._procs.discard(proc)
            out.seek(0)
            err.seek(0)
            return ExecResult(-9 if timed_out else proc.returncode, out.read(), err.read(),
                              timed_out)  # fmt: skip

    async def kill_all(self) -> None:
        live = [p for p in self._procs if p.returncode is None]
        for p in live:
            _killpg(p.pid)
        # bwrap: namespaces of killed commands wind down; none: daemons may remain. A scan of
        # /proc costs about a millisecond per hundred processes.
        await _kill_marked(self.name, None if self._prefix else str(self.host_dir))
        for p in live:
            await p.wait()

    # ---- files: direct host I/O through the path map ----

    async def read_bytes(self, path: str) -> bytes:
        return await asyncio.to_thread(self._fs.read_bytes, path)

    async def write_bytes(self, path: str, data: bytes, mode: int | None = None) -> None:
        await asyncio.to_thread(self._fs.write_bytes, path, data, mode)

    async def list_dir(self, path: str) -> list[str]:
        return await asyncio.to_thread(self._fs.list_dir, path)

    async def exists(self, path: str) -> bool:
        return self._fs.resolve(path).exists()

    async def is_dir(self, path: str) -> bool:
        return self._fs.resolve(path).is_dir()

    async def remove(self, path: str) -> None:
        await asyncio.to_thread(self._fs.remove, path)

    async def mkdir(self, path: str) -> None:
        self._fs.resolve(path, write=True).mkdir(parents=True, exist_ok=True)

    async def put_tree(self, local_dir: Path, path: str) -> None:
        dest = self._fs.resolve(path, write=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_hostfs.copy_in, Path(local_dir), dest)

    async def get_tree(
        self,
        path: str,
        local_dir: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
        exclude: Callable[[str], bool] | None = None,
    ) -> None:
        src = self._fs.resolve(path)
        await asyncio.to_thread(
            _hostfs.copy_out, src, Path(local_dir), max_bytes, max_files, exclude
        )


class LocalProvider(Provider):
    """Sandboxes as directories under ``base_dir``; bubblewrap isolation when available.

    ``use_bwrap``: True requires bwrap (``InfraError`` if unusable), False never uses it,
    None detects it. ``hide``: host directories made empty inside bwrap sandboxes (pass the
    cache directory: it holds hidden references); ``base_dir`` is always hidden.
    """

    name = "local"

    def __init__(
        self, base_dir: Path, use_bwrap: bool | None = None, hide: Sequence[Path] = ()
    ) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.use_bwrap = use_bwrap
        self.hide = [Path(h).absolute() for h in hide]

    @asynccontextmanager
    async def sandbox(self, spec: SandboxSpec) -> AsyncIterator[LocalSandbox]:
        use = self.use_bwrap
        if use is None:
            use = await asyncio.to_thread(bwrap_available)
        exe = shutil.which("bwrap") if use else None
        if use and not exe:
            raise InfraError("local provider: bwrap requested but not found on PATH")
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.build_id)[:64] or "nobuild"
        self.base_dir.mkdir(parents=True, exist_ok=True)
        host_dir = self.base_dir / f"{slug}-{secrets.token_hex(6)}"
        host_dir.mkdir()
        sbx: LocalSandbox | None = None
        try:
            (host_dir / "root").mkdir()
            (host_dir / "tmp").mkdir()
            meta = {"build_id": spec.build_id, "pid": os.getpid()}
            (host_dir / _MARKER_FILE).write_text(json.dumps(meta))
            prefix = (
                _bwrap_prefix(exe, host_dir, spec, [self.base_dir, *self.hide]) if exe else None
            )
            sbx = LocalSandbox(host_dir, spec, prefix)
            yield sbx
        finally:
            try:
                if sbx is not None:
                    await sbx.kill_all()
            finally:
                _hostfs.rmtree_force(host_dir)  # synchronous: must happen even if cancelled

    async def gc(self, build_id_prefix: str | None = None) -> list[str]:
        """Delete leftover sandbox dirs whose owning process is gone (never live ones)."""
        removed: list[str] = []
        if not self.base_dir.is_dir():
            return removed
        for d in sorted(self.base_dir.iterdir()):
            try:
                meta = json.loads((d / _MARKER_FILE).read_text())
            except (OSError, ValueError):
                continue  # not a sandbox of ours
            if build_id_prefix is not None and not meta["build_id"].startswith(build_id_prefix):
                continue
            if _alive(int(meta["pid"])):
                continue
            await _kill_marked(d.name, str(d))
            _hostfs.rmtree_force(d)
            removed.append(d.name)
        return removed
