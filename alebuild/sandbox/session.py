"""The ALE ``DesktopSession`` surface, on top of any ``Sandbox``.

ALE task code (``start(cfg, session)``, ``evaluate(cfg, session)``) calls ``run_command``,
``read_file``, ``read_bytes``, ``write_file``, ``write_bytes``, ``file_exists``,
``directory_exists``, ``list_dir`` and ``interface.create_dir/delete_dir``, all async.
``run_command`` results are read both as objects (``r.stdout``, ``r.returncode``) and as
dicts (``r["stdout"]``, ``r.get("returncode")``); ``CommandResult`` supports both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alebuild.sandbox.base import Sandbox

__all__ = ["CommandResult", "Session"]


@dataclass(frozen=True)
class CommandResult:
    """The outcome of ``Session.run_command``; also readable like a read-only dict."""

    stdout: str
    stderr: str
    returncode: int
    timed_out: bool = False

    @property
    def return_code(self) -> int:
        return self.returncode

    @property
    def exit_code(self) -> int:
        return self.returncode

    @property
    def success(self) -> bool:
        return self.returncode == 0

    _KEYS = ("stdout", "stderr", "returncode", "return_code", "exit_code", "success", "timed_out")

    def __getitem__(self, key: str) -> Any:
        if key not in self._KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._KEYS else default

    def __contains__(self, key: object) -> bool:
        return key in self._KEYS

    def keys(self) -> tuple[str, ...]:
        return self._KEYS

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)


class Session:
    """What an ALE task sees as its ``session``.

    ``run_command`` takes a shell string (run by ``/bin/sh -c``) or an argv list;
    ``timeout`` defaults to ``default_timeout`` seconds, and a timed-out command returns
    ``returncode == -9`` with ``timed_out`` set. ``check=True`` turns a nonzero exit into
    ``RuntimeError`` carrying stderr. File methods take canonical sandbox paths.
    """

    def __init__(
        self, sandbox: Sandbox, *, os_type: str = "linux", default_timeout: float = 600
    ) -> None:
        self.sandbox = sandbox
        self.os_type = os_type
        self.default_timeout = default_timeout

    @property
    def interface(self) -> Session:
        """ALE tasks call ``session.interface.create_dir(...)``: the session is its own
        interface."""
        return self

    async def run_command(
        self,
        cmd: str | list[str],
        check: bool = False,
        timeout: float | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        res = await self.sandbox.exec(
            argv, env=env, cwd=cwd, timeout=self.default_timeout if timeout is None else timeout
        )
        out = CommandResult(
            stdout=res.stdout.decode("utf-8", errors="replace"),
            stderr=res.stderr.decode("utf-8", errors="replace"),
            returncode=res.returncode,
            timed_out=res.timed_out,
        )
        if check and out.returncode != 0:
            why = "timed out" if out.timed_out else f"exit code {out.returncode}"
            raise RuntimeError(f"command failed ({why}): {cmd!r}: {out.stderr.strip()}")
        return out

    async def read_bytes(self, path: str) -> bytes:
        return await self.sandbox.read_bytes(path)

    async def read_file(self, path: str, encoding: str = "utf-8") -> str:
        return (await self.sandbox.read_bytes(path)).decode(encoding)

    async def write_bytes(self, path: str, data: bytes) -> None:
        await self.sandbox.write_bytes(path, data)

    async def write_file(self, path: str, content: str) -> None:
        await self.sandbox.write_bytes(path, content.encode("utf-8"))

    async def file_exists(self, path: str) -> bool:
        """True only for an existing non-directory."""
        return await self.sandbox.exists(path) and not await self.sandbox.is_dir(path)

    async def directory_exists(self, path: str) -> bool:
        return await self.sandbox.is_dir(path)

    async def list_dir(self, path: str) -> list[str]:
        return await self.sandbox.list_dir(path)

    async def create_dir(self, path: str) -> None:
        await self.sandbox.mkdir(path)

    async def delete_dir(self, path: str) -> None:
        await self.sandbox.remove(path)

    async def screenshot(self) -> bytes:
        """PNG bytes from a GUI provider's sandbox; ``NotImplementedError`` without a screen."""
        shot = getattr(self.sandbox, "screenshot", None)
        if shot is None:
            raise NotImplementedError("local provider has no screen")
        return await shot()
