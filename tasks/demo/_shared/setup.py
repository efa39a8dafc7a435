"""Run-time helpers shared by the demo tasks' ``start()`` functions.

Everything here talks to the sandbox only through the ALE session surface
(``run_command``, ``write_file``, ...), so it works the same against a local,
docker or cloud sandbox. Failures raise ``RuntimeError``: a setup that cannot
build its fixture is an infrastructure problem, never a score.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

__all__ = ["command_result", "prepare_output", "run", "run_python", "write_text_files"]


def command_result(result: Any) -> tuple[int, str, str]:
    """Normalise a ``run_command`` result to ``(returncode, stdout, stderr)``.

    Sessions return either an object with attributes or a dict; both spellings of the
    return-code field seen in ALE sessions are accepted.
    """
    if isinstance(result, dict):
        get = result.get
    else:
        def get(name: str, default: Any = None) -> Any:
            return getattr(result, name, default)
    code = get("returncode")
    if code is None:
        code = get("return_code", get("exit_code", 0))
    stdout = get("stdout", "") or ""
    stderr = get("stderr", "") or ""
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    return int(code), stdout, stderr


async def run(session: Any, cmd: str, *, check: bool = True) -> tuple[int, str, str]:
    """Run a shell command in the sandbox; with ``check`` a non-zero exit raises."""
    code, out, err = command_result(await session.run_command(cmd, check=False))
    if check and code != 0:
        raise RuntimeError(f"command failed ({code}): {cmd[:200]}\n{err.strip()[:2000]}")
    return code, out, err


async def run_python(session: Any, code: str, *args: str) -> str:
    """Run ``python3 -c code args...`` in the sandbox (stdlib only); return its stdout."""
    argv = " ".join(shlex.quote(a) for a in args)
    _, out, _ = await run(session, f"python3 -c {shlex.quote(code)} {argv}".rstrip())
    return out


async def prepare_output(session: Any, output_dir: str) -> None:
    """Create the (empty) output folder the agent writes into."""
    await run(session, f"mkdir -p {shlex.quote(output_dir)}")


async def write_text_files(session: Any, base: str, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` under ``base``, creating parent folders."""
    parents = sorted({posixpath.dirname(posixpath.join(base, rel)) for rel in files})
    await run(session, "mkdir -p " + " ".join(shlex.quote(p) for p in parents))
    for rel in sorted(files):
        await session.write_file(posixpath.join(base, rel), files[rel])
