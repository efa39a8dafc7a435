"""``task_suite``: an ALE selected-tasks list (one ``<domain>/<task>`` a line, ``#`` comments).

Tiers are suites. A keyed description (resource): its dependencies are the listed task
packages, so a missing task is an error naming the list file and line at load time.
"""

from __future__ import annotations

from pathlib import Path

from alebuild.ale.tasklists import TaskRef, check_task_refs, parse_task_list
from alebuild.core.errors import UserError
from alebuild.core.labels import Label
from alebuild.core.rule import File, Rule, Spec

__all__ = ["TaskSuite", "TaskSuiteSpec", "suite_refs", "task_label"]


class TaskSuiteSpec(Spec):
    file: str
    tasks_root: str = "tasks"  # workspace folder that holds <domain>/<task> packages


def task_label(tasks_root: str, task: str) -> Label:
    """``demo/bank_recon`` -> ``//tasks/demo/bank_recon:bank_recon``."""
    return Label(f"{tasks_root}/{task}".strip("/"), task.rsplit("/", 1)[-1])


def suite_refs(target, root: Path) -> list[TaskRef]:
    spec: TaskSuiteSpec = target.spec
    rel = f"{target.label.package}/{spec.file}".lstrip("/")
    path = root / rel
    if not path.is_file():
        raise UserError(f"task list {rel} does not exist", file=target.file, line=target.line,
                        field=f"{target.label} file")
    refs = parse_task_list(path, display=rel)
    check_task_refs(refs, root / spec.tasks_root)
    return refs


class TaskSuite(Rule):
    kind = "task_suite"
    Spec = TaskSuiteSpec
    resource = True

    def deps(self, target, ctx) -> list[Label]:
        return sorted({task_label(target.spec.tasks_root, r.task) for r in suite_refs(target, ctx.root)})

    def inputs(self, target, ctx):
        return {"list": File(ctx.root / target.label.package / target.spec.file)}
