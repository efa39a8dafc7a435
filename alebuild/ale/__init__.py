"""ALE compatibility: task packages, task cards and selected task lists.

Domain code: imports only the engine's public errors. Nothing here hashes; the functions
return the text and paths that keys are made from.
"""

from __future__ import annotations

from alebuild.ale.cua_bench import install_shim
from alebuild.ale.sources import normalize_text, read_text_normalized
from alebuild.ale.taskcard import TaskCard, VmSpec, load_task_card
from alebuild.ale.tasklists import TaskRef, check_task_refs, parse_task_list
from alebuild.ale.taskpkg import (
    GraderError,
    SetupError,
    TaskEnv,
    TaskModule,
    TaskPaths,
    grade_helpers,
    grade_source,
    helper_closure,
    normalize_score,
    run_helpers,
    run_source,
    scorer_scripts,
    task_layout,
    workspace_imports,
)

__all__ = [
    "GraderError",
    "SetupError",
    "TaskCard",
    "TaskEnv",
    "TaskModule",
    "TaskPaths",
    "TaskRef",
    "VmSpec",
    "check_task_refs",
    "grade_helpers",
    "grade_source",
    "helper_closure",
    "install_shim",
    "load_task_card",
    "normalize_score",
    "normalize_text",
    "parse_task_list",
    "read_text_normalized",
    "run_helpers",
    "run_source",
    "scorer_scripts",
    "task_layout",
    "workspace_imports",
]
