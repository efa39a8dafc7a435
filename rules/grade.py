"""``grade``: score one run's artifacts with the task's grader, in a fresh sandbox.

The artifact tree is restored at the canonical task dir, the hidden reference staged next
to it (no agent process exists in this sandbox), then ``evaluate()`` runs. Keyed on the
run's artifact tree, the task's grade material (whole main.py, helpers, scripts,
reference) and the grading environment: never on the agent, so reproducing a score needs
no agent step. A grader that raises is ``grader_error``: reported, never cached.
"""

from __future__ import annotations

from alebuild.ale.taskpkg import TaskEnv, TaskModule, task_layout
from alebuild.cache.digest import canonical_json
from alebuild.core.labels import Label
from alebuild.core.rule import LabelRef, Output, Rule, Spec, not_keyed
from alebuild.sandbox.session import Session
from rules._sandboxes import SandboxUse, acquire, sandbox_use, seed_for, stage_tree
from rules.task import read_material, reference_tree

__all__ = ["Grade", "GradeSpec", "grade_artifacts"]


class GradeSpec(Spec):
    run: LabelRef
    task: LabelRef
    sandbox: LabelRef
    image: LabelRef | None = None
    variant: int = 0
    experiment: str = not_keyed("")


async def grade_artifacts(ctx, *, task_label: Label, task_outputs, artifacts: str, sandbox: Label,
                          image: str | None, variant: int, use: SandboxUse | None = None) -> float:
    """Restore ``artifacts``, stage the reference, run ``evaluate()``; GraderError on failure."""
    material = read_material(ctx, task_outputs["run_material"])
    reference = reference_tree(ctx, task_label.package, read_material(ctx, task_outputs["grade_material"]))
    env = TaskEnv.default_for(material["os_type"])
    domain, name = material["task_id"].split("/", 1)
    paths = task_layout(env, domain, name, material["variant_names"][variant])
    async with acquire(ctx, sandbox, image, use) as sbx:
        await stage_tree(ctx, sbx, artifacts, paths.root)
        await stage_tree(ctx, sbx, reference, paths.reference)
        module = TaskModule.load(ctx.root / task_label.package, ctx.root, env, seed=seed_for(ctx.key, "evaluate"))
        return await module.evaluate(variant, Session(sbx))


class Grade(Rule):
    kind = "grade"
    Spec = GradeSpec
    version = 1

    def dep_outputs(self, target, dep: Label) -> tuple[str, ...] | None:
        if dep == target.spec.task:
            return ("grade_material", "run_material")
        if dep == target.spec.run:
            return ("artifacts",)
        return None

    def resources(self, target) -> dict[str, int]:
        return {"sandboxes": 1}

    async def run(self, target, ctx) -> Output:
        spec: GradeSpec = target.spec
        run = ctx.dep(spec.run)
        use = sandbox_use(ctx, spec.sandbox)
        score = await grade_artifacts(
            ctx,
            task_label=spec.task,
            task_outputs=ctx.dep(spec.task).outputs,
            artifacts=run.outputs["artifacts"],
            sandbox=spec.sandbox,
            image=ctx.dep(spec.image).outputs["tree"] if spec.image else None,
            variant=spec.variant,
            use=use,
        )
        record = {"eval_status": "success", "score": score, "error": None}
        return Output(value={"score": score}, outputs={"eval": ctx.store_bytes(canonical_json(record))},
                      meta=use.meta())
