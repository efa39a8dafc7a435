"""The process state a task module's code runs in (the "workspace scope" of ``taskpkg``).

``sys.modules``, ``sys.path``, ``os.environ`` and ``random`` are process-wide, yet several
task modules (several workspaces, in tests) may live in one process and their phases may
interleave on one event loop. ``Scope.enter()`` installs one module's state and takes it
down again, keeping the ``tasks.*`` modules it imported aside for next time; ``Scoped``
wraps a coroutine so the scope is active during each of its steps and only then.
Workspace modules are compiled from source every time: a stale ``__pycache__`` entry (a
file edited twice within one mtime tick) must never grade with old code.
"""

from __future__ import annotations

import importlib.machinery
import os
import random
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from alebuild.ale.cua_bench import install_shim

__all__ = ["Scope", "Scoped", "is_workspace_module"]

# sys.modules, sys.path and os.environ are process-wide: one scope at a time per process.
_LOCK = threading.RLock()


def is_workspace_module(name: str) -> bool:
    return name == "tasks" or name.startswith("tasks.")


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the ``.py`` every time: no ``__pycache__`` read or written."""

    def get_code(self, fullname: str) -> Any:
        return self.source_to_code(self.get_data(self.path), self.path)


class _WorkspaceFinder:
    """Meta-path finder for ``tasks.*`` that swaps in ``_SourceOnlyLoader``."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
        if not is_workspace_module(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _SourceOnlyLoader(fullname, spec.loader.path)
        return spec


class Scope:
    """Everything one task module needs in the process while its code runs."""

    def __init__(self, root: Path, environ: dict[str, str], module_name: str) -> None:
        self.root = root
        self.environ = dict(environ)
        self.module_name = module_name
        self.modules: dict[str, ModuleType] = {}  # this load's tasks.* modules, kept aside

    def _owned(self, name: str) -> bool:
        return is_workspace_module(name) or name == self.module_name

    @contextmanager
    def enter(self, rng: list[Any] | None = None) -> Iterator[None]:
        """Install the scope; ``rng`` is a one-item holder of a ``random`` state (or None)."""
        with _LOCK, install_shim():
            saved_path = list(sys.path)
            saved_meta = list(sys.meta_path)
            saved_env = {k: os.environ.get(k) for k in self.environ}
            saved_modules = {n: sys.modules.pop(n) for n in list(sys.modules) if self._owned(n)}
            saved_random = random.getstate() if rng is not None else None
            sys.modules.update(self.modules)
            sys.path.insert(0, str(self.root))
            sys.meta_path.insert(0, _WorkspaceFinder)  # type: ignore[arg-type]
            os.environ.update(self.environ)
            if rng is not None:
                random.setstate(rng[0])
            try:
                yield
            finally:
                if rng is not None:
                    rng[0] = random.getstate()
                    random.setstate(saved_random)
                self.modules = {n: sys.modules.pop(n) for n in list(sys.modules) if self._owned(n)}
                sys.modules.update(saved_modules)
                sys.path[:] = saved_path
                sys.meta_path[:] = saved_meta
                for key, value in saved_env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


class Scoped:
    """Awaitable running ``coro`` with ``enter()`` active on each step and only then.

    Between two steps other coroutines run in the normal process state, so concurrent
    phases of different tasks never see each other's ``sys.path``, modules or ``random``.
    """

    def __init__(self, coro: Any, enter: Callable[[], Any]) -> None:
        self._coro = coro
        self._enter = enter

    def __await__(self) -> Any:
        send: Any = None
        error: BaseException | None = None
        while True:
            with self._enter():
                try:
                    if error is not None:
                        yielded = self._coro.throw(error)
                    else:
                        yielded = self._coro.send(send)
                except StopIteration as stop:
                    return stop.value
            send, error = None, None
            try:
                send = yield yielded
            except GeneratorExit:
                with self._enter():
                    self._coro.close()
                raise
            except BaseException as exc:  # cancellation and the like go to the task code
                error = exc
