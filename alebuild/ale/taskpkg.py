"""ALE task packages: ``tasks/<domain>/<task>/main.py`` loaded and run as ALE runs them.

``TaskModule.load`` imports ``main.py`` inside a *workspace scope*: the ``cua_bench`` shim
installed, the workspace root first on ``sys.path`` (tasks import ``tasks.common_config``,
``tasks.<domain>._shared.x``; ``tasks/`` is a namespace package), ``REMOTE_ROOT_DIR`` /
``OS_TYPE`` / ``REMOTE_OUTPUT_DIR`` set in ``os.environ`` (read at import time), and no
``tasks.*`` module left over from an earlier load. On exit the process is put back as it
was; the ``tasks.*`` modules this load imported are kept aside with the ``TaskModule`` and
brought back whenever its code runs again (``load()`` and every step of ``start`` /
``evaluate``), so a local import inside a grader works, and two workspaces, or an edited
file, never see each other's modules. Workspace modules are compiled from source, never
from ``__pycache__`` (a stale ``.pyc`` must not grade with yesterday's code). The
mechanics are in ``alebuild.ale.scope``.

With a ``seed``, Python's ``random`` is seeded before the import and before each phase, and
the phase keeps its own random state across ``await`` points, so tokens a task draws with
``random`` are reproducible per run however many phases share the event loop.

Key material (text and paths; callers hash) lives in ``alebuild.ale.sources`` and is
re-exported here.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import itertools
import math
import ntpath
import numbers
import posixpath
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from alebuild.ale.scope import Scope, Scoped
from alebuild.ale.sources import (
    grade_helpers,
    grade_source,
    helper_closure,
    read_text_normalized,
    run_helpers,
    run_source,
    scorer_scripts,
    workspace_imports,
)
from alebuild.core.errors import ActionFailure, UserError

__all__ = [
    "GraderError",
    "SetupError",
    "TaskEnv",
    "TaskModule",
    "TaskPaths",
    "grade_helpers",
    "grade_source",
    "helper_closure",
    "normalize_score",
    "read_text_normalized",
    "run_helpers",
    "run_source",
    "scorer_scripts",
    "task_layout",
    "workspace_imports",
]

_COUNTER = itertools.count()

LINUX_ROOT = "/media/user/data/agenthle"
WINDOWS_ROOT = "E:\\agenthle"


@dataclass(frozen=True)
class TaskEnv:
    """The three variables ALE tasks read at import; they shape the instruction text."""

    remote_root: str = LINUX_ROOT
    os_type: str = "linux"
    output_dir: str = "output"

    @classmethod
    def default_for(cls, os_type: str) -> TaskEnv:
        """ALE's defaults: ``/media/user/data/agenthle`` on linux, ``E:\\agenthle`` on windows."""
        root = WINDOWS_ROOT if os_type == "windows" else LINUX_ROOT
        return cls(remote_root=root, os_type=os_type)

    def as_environ(self) -> dict[str, str]:
        return {
            "REMOTE_ROOT_DIR": self.remote_root,
            "OS_TYPE": self.os_type,
            "REMOTE_OUTPUT_DIR": self.output_dir,
        }


@dataclass(frozen=True)
class TaskPaths:
    """Canonical in-sandbox folders of one task variant (strings in the guest's syntax)."""

    root: str
    input: str
    software: str
    reference: str
    output: str


def task_layout(env: TaskEnv, domain: str, task: str, variant: str = "base") -> TaskPaths:
    """``<remote_root>/<domain>/<task>/<variant>`` and its four folders.

    POSIX separators for linux, backslashes for windows.
    """
    join = ntpath.join if env.os_type == "windows" else posixpath.join
    root = join(env.remote_root, domain, task, variant)
    return TaskPaths(
        root=root,
        input=join(root, "input"),
        software=join(root, "software"),
        reference=join(root, "reference"),
        output=join(root, env.output_dir),
    )


class SetupError(Exception):
    """``load()`` or ``start()`` raised; ``error_type``/``error_message``/``traceback_text``."""

    def __init__(self, message: str, *, error_type: str = "", traceback_text: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.error_message = message
        self.traceback_text = traceback_text


class GraderError(ActionFailure):
    """The grader raised or returned something that is not a score (outcome grader_error)."""

    def __init__(self, message: str, *, error_type: str = "", traceback_text: str = "") -> None:
        super().__init__("grader_error", f"{error_type}: {message}" if error_type else message)
        self.error_type = error_type
        self.error_message = message
        self.traceback_text = traceback_text


def _wrap(kind: type[SetupError] | type[GraderError], exc: BaseException) -> Exception:
    return kind(
        str(exc),
        error_type=type(exc).__name__,
        traceback_text="".join(traceback.format_exception(exc)),
    )


def normalize_score(value: Any) -> float:
    """A grader's return value as one float; ``GraderError`` if it is not a score.

    ``list[float]`` (ALE's form): the single element, or the mean of several; a dict with
    ``score`` or ``final_score``; a bare number or bool. NaN and infinities are rejected.
    """
    score: Any = value
    if isinstance(value, dict):
        key = "score" if "score" in value else "final_score" if "final_score" in value else None
        if key is None:
            raise GraderError(f"grader returned a dict without 'score': {sorted(value)!r}")
        score = value[key]
    elif isinstance(value, (list, tuple)):
        if not value or not all(isinstance(v, numbers.Real) for v in value):
            raise GraderError(f"grader returned {value!r}, not a non-empty list of numbers")
        score = value[0] if len(value) == 1 else sum(float(v) for v in value) / len(value)
    if not isinstance(score, numbers.Real):
        raise GraderError(f"grader returned {type(value).__name__} {value!r}, not a score")
    result = float(score)
    if not math.isfinite(result):
        raise GraderError(f"grader returned a non-finite score {result!r}")
    return result


# --- the task module ----------------------------------------------------------------------

_ROLES = {"tasks_config": "load", "setup_task": "start", "evaluate_task": "evaluate"}


def _find_phase(module: ModuleType, role: str) -> Callable[..., Any] | None:
    """The function tagged ``role`` (own module first), else the one named by ALE's convention."""
    tagged = [
        value
        for value in vars(module).values()
        if callable(value) and getattr(value, "__cua_role__", None) == role
    ]
    tagged.sort(key=lambda f: getattr(f, "__module__", None) != module.__name__)
    if tagged:
        return tagged[0]
    named = getattr(module, _ROLES[role], None)
    return named if callable(named) else None


def _config_classes(module: ModuleType) -> list[type]:
    """``*Config`` classes visible in ``main.py``, those it defines first."""
    classes = [
        value
        for name, value in vars(module).items()
        if isinstance(value, type) and name.endswith("Config")
    ]
    classes.sort(key=lambda c: c.__module__ != module.__name__)
    return classes


def _config_objects(module: ModuleType) -> list[Any]:
    """Module-level ``config`` (ALE's spelling) or ``CONFIG`` objects with a description."""
    found = [getattr(module, name, None) for name in ("config", "CONFIG")]
    return [c for c in found if c is not None and hasattr(c, "task_description")]


def _task_from_config(config: Any, cb: ModuleType) -> Any:
    to_metadata = getattr(config, "to_metadata", None)
    metadata = dict(to_metadata()) if callable(to_metadata) else {}
    return cb.Task(description=config.task_description, metadata=metadata)


class TaskModule:
    """One imported ``main.py``; see the module docstring for the scope it runs in."""

    def __init__(self, module: ModuleType, main_py: Path, scope: Scope, seed: int | None) -> None:
        self.module = module
        self.main_py = main_py
        self._scope = scope
        self._seed = seed

    @classmethod
    def load(
        cls,
        task_dir: Path,
        workspace_root: Path,
        env: TaskEnv | None = None,
        seed: int | None = None,
    ) -> TaskModule:
        """Import ``task_dir/main.py``; ``UserError`` if it is missing or fails to import."""
        main_py = Path(task_dir) / "main.py"
        if not main_py.is_file():
            raise UserError("no main.py in task package", file=str(main_py))
        source = read_text_normalized(main_py)
        name = f"_alebuild_task_{next(_COUNTER)}"
        scope = Scope(Path(workspace_root).absolute(), (env or TaskEnv()).as_environ(), name)
        rng = [random.Random(seed).getstate()] if seed is not None else None
        importlib.invalidate_caches()  # files written within one mtime tick must be seen
        with scope.enter(rng):
            spec = importlib.util.spec_from_file_location(name, main_py)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and typing look their module up
            try:
                exec(compile(source, str(main_py), "exec"), module.__dict__)
            except (Exception, SystemExit) as exc:
                raise UserError(
                    f"importing the task failed: {type(exc).__name__}: {exc}", file=str(main_py)
                ) from exc
        return cls(module, main_py, scope, seed)

    # -- variants

    def _fresh_rng(self) -> list[Any] | None:
        return [random.Random(self._seed).getstate()] if self._seed is not None else None

    def _load_variants(self) -> list[Any]:
        """Run ``load()`` (or a fallback); call inside the scope."""
        cb = sys.modules["cua_bench"]
        load = _find_phase(self.module, "tasks_config")
        if load is not None:
            result = load()
        elif _config_objects(self.module):
            result = [_task_from_config(_config_objects(self.module)[0], cb)]
        else:
            result = None
            for klass in _config_classes(self.module):
                try:
                    config = klass()
                    result = [_task_from_config(config, cb)]
                    break
                except Exception:  # an abstract base or a class needing arguments
                    continue
            if result is None:
                raise ValueError("no load(), no config object and no usable *Config class")
        if not isinstance(result, (list, tuple)):
            result = [result]
        return [cb.Task(**item) if isinstance(item, dict) else item for item in result]

    def _variant(self, variants: list[Any], index: int) -> Any:
        if not 0 <= index < len(variants):
            raise UserError(
                f"variant {index} out of range: the task has {len(variants)} variant(s)",
                file=str(self.main_py),
            )
        return variants[index]

    def variants(self) -> list[Any]:
        """The ``Task`` objects ``load()`` returns; ``UserError`` if it raises."""
        with self._scope.enter(self._fresh_rng()):
            try:
                return self._load_variants()
            except Exception as exc:
                raise UserError(
                    f"load() failed: {type(exc).__name__}: {exc}", file=str(self.main_py)
                ) from exc

    def instruction(self, variant_index: int = 0) -> str:
        """The variant's ``description``: the text the agent is given."""
        text = self._variant(self.variants(), variant_index).description
        if not isinstance(text, str):
            raise UserError("task description is not a string", file=str(self.main_py))
        return text

    def metadata(self, variant_index: int = 0) -> dict[str, Any]:
        return dict(getattr(self._variant(self.variants(), variant_index), "metadata", {}) or {})

    def variant_name(self, variant_index: int = 0) -> str:
        """``metadata["variant"]``, else a config's ``VARIANT_NAME``, else ``base``."""
        meta = self.metadata(variant_index)
        for key in ("variant", "variant_name"):
            if isinstance(meta.get(key), str) and meta[key]:
                return meta[key]
        holders = [*_config_objects(self.module), *_config_classes(self.module)]
        for holder in holders:
            value = getattr(holder, "VARIANT_NAME", None)
            if isinstance(value, str) and value:
                return value
        return "base"

    # -- phases

    async def _run_phase(
        self, role: str, variant_index: int, session: Any, kind: type[Exception]
    ) -> Any:
        rng = self._fresh_rng()
        try:
            with self._scope.enter(rng):
                task = self._variant(self._load_variants(), variant_index)
                func = _find_phase(self.module, role)
                if func is None:
                    raise LookupError(f"main.py has no {_ROLES[role]}() function")
                result = func(task, session)
            if inspect.iscoroutine(result):
                result = await Scoped(result, lambda: self._scope.enter(rng))
            elif inspect.isawaitable(result):
                result = await result
            return result
        except (kind, UserError):
            raise
        except (Exception, SystemExit) as exc:
            raise _wrap(kind, exc) from exc  # type: ignore[arg-type]

    async def start(self, variant_index: int, session: Any) -> None:
        """ALE setup: ``load()`` then ``start(task_cfg, session)``; ``SetupError`` if either raises."""
        await self._run_phase("setup_task", variant_index, session, SetupError)

    async def evaluate(self, variant_index: int, session: Any) -> float:
        """ALE grading: ``load()`` then ``evaluate(task_cfg, session)`` normalised to one float.

        ``GraderError`` if either raises or the return value is not a score.
        """
        result = await self._run_phase("evaluate_task", variant_index, session, GraderError)
        return normalize_score(result)
