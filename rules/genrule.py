"""``genrule``: run a shell command over sources, collect declared outputs.

The command runs in a fresh scratch directory holding every source file at its
package-relative path and every output of a label source under its declared name. The
declared ``outs`` are collected from that directory; a missing out fails the action.
"""

from __future__ import annotations

import asyncio
import glob
import os
import signal
from pathlib import Path
from typing import Any, Literal

from alebuild.core.errors import UserError
from alebuild.core.labels import Label
from alebuild.core.rule import File, Output, Rule, Spec, SrcRef, not_keyed

__all__ = ["Genrule", "GenruleSpec"]

_GLOB_CHARS = set("*?[")


class GenruleSpec(Spec):
    srcs: list[SrcRef] = []
    outs: list[str]
    cmd: str
    timeout_s: float | None = None
    # private outputs (and everything built from them) never go to a public remote store
    visibility: Literal["public", "private"] = not_keyed("public")
    doc: str = not_keyed("")


class Genrule(Rule):
    kind = "genrule"
    Spec = GenruleSpec
    version = 1

    def _files(self, target, ctx) -> dict[str, str]:
        """Package-relative source path -> host path. Plain paths are not checked here: the
        key computation stats them anyway and reports a missing one with this target's
        file and line."""
        pkg_dir = os.fspath(ctx.package_dir(target.label.package))
        files: dict[str, str] = {}
        for src in target.spec.srcs:
            if isinstance(src, Label):
                continue
            if _GLOB_CHARS & set(src):
                matches = sorted(glob.glob(src, root_dir=pkg_dir, recursive=True))
                matches = [m for m in matches if os.path.isfile(os.path.join(pkg_dir, m))]
                if not matches:
                    raise UserError(
                        f"glob {src!r} matches no file", file=target.file, line=target.line,
                        field=f"{target.label} srcs",
                    )
            else:
                matches = [src]
            for rel in matches:
                files[rel.replace(os.sep, "/")] = os.path.join(pkg_dir, rel)
        return files

    def inputs(self, target, ctx) -> dict[str, Any]:
        return {"srcs": {rel: File(path) for rel, path in sorted(self._files(target, ctx).items())}}

    def timeout(self, target) -> float | None:
        return target.spec.timeout_s

    async def run(self, target, ctx) -> Output:
        spec: GenruleSpec = target.spec
        work = ctx.scratch()
        for rel, path in self._files(target, _PkgDirs(ctx.root)).items():
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(Path(path).read_bytes())
            os.chmod(dest, 0o755 if os.access(path, os.X_OK) else 0o644)
        for src in spec.srcs:
            if isinstance(src, Label):
                for name, digest in sorted(ctx.dep(src).outputs.items()):
                    dest = work / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    ctx.materialize(digest, dest)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "OUTS": " ".join(spec.outs),
        }
        proc = await asyncio.create_subprocess_exec(
            "/bin/bash", "-c", spec.cmd, cwd=work, env=env, start_new_session=True,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await proc.communicate()
        except asyncio.CancelledError:
            _kill_group(proc)
            await asyncio.shield(proc.wait())  # reap it, so nothing outlives the action
            raise
        if proc.returncode != 0:
            tail = output.decode(errors="replace")[-2000:]
            return Output(outcome="failed", reason=f"command exited {proc.returncode}: {tail}")
        outputs: dict[str, str] = {}
        for name in spec.outs:
            path = work / name
            if not path.is_file():
                return Output(outcome="failed", reason=f"declared output {name!r} was not produced")
            outputs[name] = ctx.store_file(path)
        return Output(outputs=outputs)


class _PkgDirs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def package_dir(self, package: str) -> Path:
        return self.root / package


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
