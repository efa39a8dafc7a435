"""A light stand-in for the ``cua_bench`` package that ALE task modules import.

ALE's ``main.py`` files do ``import cua_bench as cb`` and use only a handful of names:
the three phase decorators, ``cb.Task`` and ``cb.DesktopSession`` (as a type). The real
package is heavy (VM drivers, browsers) and is not a dependency, so ``install_shim()``
puts this module in ``sys.modules["cua_bench"]`` while a task module is imported or run.

Contract: each decorator returns the function unchanged and sets ``func.__cua_role__``
to its own name (``tasks_config``, ``setup_task`` or ``evaluate_task``) and
``func.__cua_split__`` to the split, which is how ``taskpkg`` finds the phase functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Protocol, TypeVar

__all__ = [
    "DesktopSession",
    "Task",
    "evaluate_task",
    "install_shim",
    "setup_task",
    "tasks_config",
]

F = TypeVar("F", bound=Callable[..., Any])


def _tag(role: str, split: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        func.__cua_role__ = role  # type: ignore[attr-defined]
        func.__cua_split__ = split  # type: ignore[attr-defined]
        return func

    return decorate


def tasks_config(split: str = "train") -> Callable[[F], F]:
    """Mark the function returning the task's variants (``load()``)."""
    return _tag("tasks_config", split)


def setup_task(split: str = "train") -> Callable[[F], F]:
    """Mark the async setup function (``start(task_cfg, session)``)."""
    return _tag("setup_task", split)


def evaluate_task(split: str = "train") -> Callable[[F], F]:
    """Mark the async grader (``evaluate(task_cfg, session)``)."""
    return _tag("evaluate_task", split)


@dataclass(init=False)
class Task:
    """One task variant, as ``load()`` returns it.

    Extra keyword arguments (``task_id=...`` and the like) are kept both as attributes
    and in ``extra`` so tasks written against the real package still construct.
    """

    description: str
    metadata: dict[str, Any]
    computer: dict[str, Any]
    extra: dict[str, Any]

    def __init__(
        self,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        computer: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.description = description
        self.metadata = dict(metadata or {})
        self.computer = dict(computer or {})
        self.extra = dict(extra)
        for key, value in extra.items():
            if key not in ("description", "metadata", "computer", "extra"):
                setattr(self, key, value)


class DesktopSession(Protocol):
    """The session surface ALE tasks use; a type only (the sandbox provides the object)."""

    async def run_command(self, command: Any, check: bool = ...) -> Any: ...
    async def read_file(self, path: str) -> str: ...
    async def write_file(self, path: str, content: str) -> None: ...
    async def read_bytes(self, path: str) -> bytes: ...
    async def write_bytes(self, path: str, content: bytes) -> None: ...
    async def file_exists(self, path: str) -> bool: ...
    async def directory_exists(self, path: str) -> bool: ...
    async def list_dir(self, path: str) -> list[str]: ...


@cache
def _real_package_available() -> bool:
    """Whether a real ``cua_bench`` is importable (asked once per process)."""
    present = sys.modules.get("cua_bench")
    if present is not None:
        return present is not sys.modules[__name__]
    try:
        return importlib.util.find_spec("cua_bench") is not None
    except (ImportError, ValueError):
        return False


@contextmanager
def install_shim() -> Iterator[ModuleType]:
    """Make ``import cua_bench`` work for the duration; yields the module in use.

    The real package wins when it is installed. Otherwise this module is placed in
    ``sys.modules["cua_bench"]`` and whatever was there before is put back on exit.
    Re-entrant: a nested call sees the shim already installed and leaves it alone.
    """
    this = sys.modules[__name__]
    current = sys.modules.get("cua_bench")
    if current is this:
        yield this
        return
    if _real_package_available():
        yield importlib.import_module("cua_bench")
        return
    sys.modules["cua_bench"] = this
    try:
        yield this
    finally:
        if current is None:
            sys.modules.pop("cua_bench", None)
        else:
            sys.modules["cua_bench"] = current
