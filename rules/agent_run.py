"""``agent_run``: one agent on one task variant, one replica, in a fresh sandbox.

Steps: stage input/ and software/ at the canonical task dir, run the task's ``start()``,
run the agent under its wall time (install time excluded: script agents install nothing),
kill every process the agent left, collect the task dir (reference excluded; links kept as
links) as the artifact tree. A timeout or a non-zero exit is ``agent_failed``: a legitimate,
cached sample that is still graded.
"""

from __future__ import annotations

import json
import time
from typing import Any

from alebuild.ale.taskpkg import SetupError, TaskEnv, TaskModule, task_layout
from alebuild.core.errors import InfraError
from alebuild.core.labels import Label
from alebuild.core.rule import LabelRef, Output, Rule, Spec, not_keyed
from alebuild.sandbox.session import Session
from rules._sandboxes import acquire, sandbox_use, seed_for, stage_tree
from rules.task import read_material

__all__ = ["AgentRun", "AgentRunSpec", "AGENT_DIR"]

AGENT_DIR = "/tmp/alebuild-agent"
MAX_TRANSCRIPT = 1 << 20


class AgentRunSpec(Spec):
    task: LabelRef
    agent: LabelRef
    sandbox: LabelRef
    image: LabelRef | None = None
    variant: int = 0
    replica: int = 0
    prompt_suffix: str = ""
    wall_time_s: int | None = None  # None: the task card's timeout
    experiment: str = not_keyed("")


def full_instruction(material: dict[str, Any], variant: int, suffix: str) -> str:
    text = material["instructions"][variant]
    return f"{text}\n\n{suffix}" if suffix else text


class AgentRun(Rule):
    kind = "agent_run"
    Spec = AgentRunSpec
    version = 1

    def dep_outputs(self, target, dep: Label) -> tuple[str, ...] | None:
        return ("run_material",) if dep == target.spec.task else None

    def resources(self, target) -> dict[str, int]:
        return {"sandboxes": 1}

    async def run(self, target, ctx) -> Output:
        spec: AgentRunSpec = target.spec
        task = ctx.dep(spec.task)
        agent = ctx.dep(spec.agent).value
        material = read_material(ctx, task.outputs["run_material"])
        env = TaskEnv.default_for(material["os_type"])
        domain, name = material["task_id"].split("/", 1)
        paths = task_layout(env, domain, name, material["variant_names"][spec.variant])
        instruction = full_instruction(material, spec.variant, spec.prompt_suffix)
        wall = spec.wall_time_s or material["timeout_s"]
        secrets = {n: ctx.secret(n) for n in agent["env"]}
        image = ctx.dep(spec.image).outputs["tree"] if spec.image else None

        use = sandbox_use(ctx, spec.sandbox)
        async with acquire(ctx, spec.sandbox, image, use) as sbx:
            await stage_tree(ctx, sbx, task.outputs["input"], paths.input)
            await stage_tree(ctx, sbx, task.outputs["software"], paths.software)
            await sbx.mkdir(paths.output)
            module = TaskModule.load(ctx.root / spec.task.package, ctx.root, env, seed=seed_for(ctx.key, "start"))
            try:
                await module.start(spec.variant, Session(sbx))
            except SetupError as exc:
                raise InfraError(f"task setup failed: {exc.error_type}: {exc}") from exc
            argv, agent_env = await self._prepare(ctx, sbx, agent, instruction, paths, material)
            t_agent = time.monotonic()
            res = await sbx.exec(
                argv, env={**agent_env, **secrets}, cwd=paths.root, stdin=instruction.encode(),
                timeout=wall,
            )
            res_seconds = time.monotonic() - t_agent
            await sbx.kill_all()  # nothing of the agent may outlive its turn
            local = ctx.scratch() / "artifacts"
            await sbx.get_tree(paths.root, local, exclude=lambda rel: rel.split("/", 1)[0] == "reference")
            artifacts = ctx.store_tree(local, modes="full")

        transcript = ctx.redact(
            res.stdout[-MAX_TRANSCRIPT:].decode(errors="replace")
            + "\n--- stderr ---\n"
            + res.stderr[-MAX_TRANSCRIPT:].decode(errors="replace")
        )
        if res.timed_out:
            outcome, status, reason = "agent_failed", "timeout", f"agent exceeded wall time {wall}s"
        elif res.returncode != 0:
            outcome, status, reason = "agent_failed", "failed", f"agent exited {res.returncode}"
        else:
            outcome, status, reason = "ok", "completed", None
        return Output(
            outcome=outcome,
            outputs={"artifacts": artifacts, "transcript": ctx.store_bytes(transcript.encode())},
            value={"status": status, "returncode": res.returncode},
            meta={**use.meta(), "wall_time_s": wall, "agent_seconds": round(res_seconds, 3)},
            reason=reason,
        )

    async def _prepare(self, ctx, sbx, agent: dict, instruction: str, paths, material) -> tuple[list[str], dict]:
        env = {
            "ALE_INSTRUCTION": instruction,
            "ALE_TASK_DIR": paths.root,
            "ALE_TASK_ID": material["task_id"],
            "ALE_AGENT_CONFIG": json.dumps(agent["config"], sort_keys=True),
            "ALE_MODEL": agent["model"],
        }
        if agent["harness"] == "script":
            script = ctx.read_bytes(ctx.dep(ctx.target.spec.agent).outputs["script"])
            await sbx.write_bytes(f"{AGENT_DIR}/agent.py", script, mode=0o755)
            return ["python3", f"{AGENT_DIR}/agent.py"], env
        command = agent["command"].replace("{instruction}", _sh_quote(instruction))
        return ["/bin/sh", "-c", command], env


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
