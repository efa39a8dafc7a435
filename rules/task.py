"""``task``: an ALE task package (``main.py`` + ``task_card.json``), implicit for its folder.

The action reads the package once and splits it into two materials, stored as blobs, so a
run and a grade each key on their own half (``Rule.dep_outputs``):

- ``run_material``: rendered instructions, ``main.py`` with ``evaluate`` removed (AST level),
  the workspace helpers that code imports, the input/software trees, timeout and snapshot.
- ``grade_material``: the whole ``main.py``, every helper it imports, ``scripts/``, and the
  hidden reference tree.

So a grader fix re-grades without re-running any agent, and an input edit re-runs both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alebuild.ale.sources import import_index
from alebuild.ale.taskcard import load_task_card
from alebuild.ale.taskpkg import (
    TaskEnv,
    TaskModule,
    grade_helpers,
    grade_source,
    read_text_normalized,
    run_helpers,
    run_source,
    scorer_scripts,
)
from alebuild.cache.digest import canonical_json
from alebuild.core.errors import UserError
from alebuild.core.rule import File, Output, Rule, Spec, Tree

__all__ = ["Task", "TaskSpec"]

DATA_DIRS = ("input", "software", "reference")
# The hidden reference is stored in the local CAS but never named as an output: outputs are
# what remote stores receive, and a public store must never hold a reference. Graders find it
# by the digest in the grade material (local CAS, else the checkout, verified).
PRIVATE_DIRS = ("reference",)


class TaskSpec(Spec):
    os_type: str = "linux"


class Task(Rule):
    kind = "task"
    Spec = TaskSpec
    version = 2

    @classmethod
    def implicit_targets(cls, directory: Path) -> list[dict[str, Any]] | None:
        if (directory / "main.py").is_file() and (directory / "task_card.json").is_file():
            return [{"kind": "task", "name": directory.name}]
        return None

    def inputs(self, target, ctx) -> dict[str, Any]:
        task_dir = ctx.package_dir(target.label.package)
        index = import_index()  # parsed import lists, kept between builds by content digest
        index.attach(ctx.root / ctx.config.cache_dir / "ale-imports.marshal")
        helpers = grade_helpers(task_dir / "main.py", ctx.root)
        index.save()
        return {
            "package": Tree(task_dir),
            "helpers": {p.relative_to(ctx.root).as_posix(): File(p) for p in helpers},
            "task_env": TaskEnv.default_for(target.spec.os_type).as_environ(),
        }

    async def run(self, target, ctx) -> Output:
        task_dir: Path = ctx.package_dir
        root: Path = ctx.root
        card = load_task_card(task_dir / "task_card.json")
        env = TaskEnv.default_for(target.spec.os_type)
        module = TaskModule.load(task_dir, root, env)
        variants = module.variants()
        instructions = [module.instruction(i) for i in range(len(variants))]
        names = [module.variant_name(i) for i in range(len(variants))]
        trees = {}
        for sub in DATA_DIRS:
            path = task_dir / sub
            if not path.is_dir():
                path = ctx.scratch()  # an absent folder is an empty tree
            trees[sub] = ctx.store_tree(path, modes="exec")
        main_text = read_text_normalized(task_dir / "main.py")

        def files(paths: list[Path]) -> dict[str, str]:
            return {p.relative_to(root).as_posix(): ctx.store_file(p) for p in paths}

        run_material = {
            "task_id": card.taskId,
            "package": target.label.package,
            "os_type": env.os_type,
            "instructions": instructions,
            "variant_names": names,
            "main_run": ctx.store_bytes(run_source(main_text).encode()),
            "helpers": files(run_helpers(task_dir / "main.py", root)),
            "input": trees["input"],
            "software": trees["software"],
            "timeout_s": card.vm.timeout_seconds,
            "snapshot": card.vm.snapshot,
            "machine_type": card.vm.machineType,
        }
        grade_material = {
            "task_id": card.taskId,
            "main": ctx.store_bytes(grade_source(main_text).encode()),
            "helpers": files(grade_helpers(task_dir / "main.py", root)),
            "scripts": {p.relative_to(task_dir).as_posix(): ctx.store_file(p) for p in scorer_scripts(task_dir)},
            "reference": trees["reference"],
        }
        outputs = {
            "run_material": ctx.store_bytes(canonical_json(run_material)),
            "grade_material": ctx.store_bytes(canonical_json(grade_material)),
            "card": ctx.store_bytes((task_dir / "task_card.json").read_bytes()),
            **{k: v for k, v in trees.items() if k not in PRIVATE_DIRS},
        }
        value = {
            "task_id": card.taskId,
            "variants": len(variants),
            "timeout_s": card.vm.timeout_seconds,
            "snapshot": card.vm.snapshot,
        }
        return Output(outputs=outputs, value=value)


def read_material(ctx: Any, digest: str) -> dict[str, Any]:
    return json.loads(ctx.read_bytes(digest))


def reference_tree(ctx: Any, task_package: str, material: dict[str, Any]) -> str:
    """The reference tree the grade was keyed on, stored locally; UserError if this checkout's
    reference folder has other bytes (a reproduction against a different answer key)."""
    digest = material["reference"]
    cas = ctx.services["cas"]
    if cas.has_all(digest):
        return digest
    folder = ctx.root / task_package / "reference"
    here = ctx.store_tree(folder if folder.is_dir() else ctx.scratch(), modes="exec")
    if here != digest:
        raise UserError(
            f"the reference of {material['task_id']} in this checkout ({here}) is not the one "
            f"graded ({digest})", file=f"{task_package}/reference",
        )
    return digest
