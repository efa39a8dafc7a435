"""``agent``: an agent preset (harness + pinned version + model + knobs + secret names).

Everything here is keyed: bump ``version`` or a ``config`` knob and only this agent's runs
re-run. Secrets are listed by NAME; their values are read at run time and never keyed,
logged or stored.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import model_validator

from alebuild.core.rule import File, Output, Rule, Spec, not_keyed

__all__ = ["Agent", "AgentSpec", "HARNESSES"]

HARNESSES = ("script", "command")
_SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class AgentSpec(Spec):
    harness: str
    script: str | None = None  # script harness: a program in this package, run in the sandbox
    command: str | None = None  # command harness: a CLI line; {instruction} is substituted
    model: str = ""
    version: str = ""
    env: list[str] = []
    config: dict[str, Any] = {}
    display_name: str = not_keyed("")

    @model_validator(mode="after")
    def _check(self) -> AgentSpec:
        if self.harness not in HARNESSES:
            raise ValueError(f"harness {self.harness!r} is not known; known: {', '.join(HARNESSES)}")
        if self.harness == "script" and not self.script:
            raise ValueError("a script agent needs `script` (a program path in this package)")
        if self.harness == "command" and not self.command:
            raise ValueError("a command agent needs `command` (use {instruction} for the prompt)")
        for name in self.env:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"env lists secret NAMES like ANTHROPIC_API_KEY, not {name!r}")
        return self


class Agent(Rule):
    kind = "agent"
    Spec = AgentSpec

    def inputs(self, target, ctx) -> dict[str, Any]:
        spec: AgentSpec = target.spec
        if spec.script:
            return {"script": File(ctx.package_dir(target.label.package) / spec.script)}
        return {}

    async def run(self, target, ctx) -> Output:
        spec: AgentSpec = target.spec
        outputs = {}
        if spec.script:
            outputs["script"] = ctx.store_file(ctx.package_dir / spec.script)
        value = {
            "name": target.label.name,
            "harness": spec.harness,
            "model": spec.model,
            "version": spec.version,
            "command": spec.command,
            "env": list(spec.env),
            "config": dict(spec.config),
        }
        return Output(outputs=outputs, value=value)
