"""The ActionContext the engine hands to ``Rule.run``: storage, dependencies, secrets, logs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from alebuild.cache.cas import LocalCAS
from alebuild.core.errors import UserError
from alebuild.core.labels import Label
from alebuild.core.rule import DepResult
from alebuild.core.target import Target

__all__ = ["EngineContext", "SecretRedactor"]


class SecretRedactor:
    """Remembers every secret value handed out in this build and scrubs it from text."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 4:  # shorter values would redact ordinary words
            self._values.add(value)

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


class EngineContext:
    """One action's view of the build. Scratch dirs are removed when the action ends."""

    def __init__(
        self,
        *,
        target: Target,
        root: Path,
        key: str,
        build_id: str,
        cas: LocalCAS,
        deps: Mapping[Label, DepResult],
        services: dict[str, Any],
        statcache: Any,
        redactor: SecretRedactor,
        log_sink: Callable[[str, str], None],
        scratch_root: Path,
    ) -> None:
        self.target = target
        self.root = root
        self.package_dir = root / target.label.package
        self.key = key
        self.build_id = build_id
        self.services = services
        self._cas = cas
        self._deps = deps
        self._statcache = statcache
        self._redactor = redactor
        self._log_sink = log_sink
        self._scratch_root = scratch_root
        self._scratches: list[Path] = []

    def dep(self, label: Label) -> DepResult:
        try:
            return self._deps[label]
        except KeyError:
            raise KeyError(f"{self.target.label} did not declare a dependency on {label}") from None

    def deps(self) -> Mapping[Label, DepResult]:
        return self._deps

    def scratch(self) -> Path:
        self._scratch_root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="act-", dir=self._scratch_root))
        self._scratches.append(path)
        return path

    def store_bytes(self, data: bytes) -> str:
        return self._cas.put_bytes(data)

    def store_file(self, path: Path) -> str:
        return self._cas.put_file(path)

    def store_tree(self, path: Path, *, modes: str = "full", **caps: Any) -> str:
        return self._cas.put_tree(path, modes=modes, **caps)

    def read_bytes(self, digest: str) -> bytes:
        return self._cas.read_bytes(digest)

    def materialize(self, digest: str, dest: Path) -> None:
        self._cas.materialize(digest, dest)

    def secret(self, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            raise UserError(
                f"secret {name} is not set",
                file=self.target.file,
                line=self.target.line,
                field=f"{self.target.label}",
                hint=f"export {name}=... before building",
            )
        self._redactor.add(value)
        return value

    def redact(self, text: str) -> str:
        return self._redactor.scrub(text)

    def log(self, message: str) -> None:
        self._log_sink(str(self.target.label), self._redactor.scrub(message))

    def close(self) -> None:
        for path in self._scratches:
            shutil.rmtree(path, ignore_errors=True)
        self._scratches.clear()
