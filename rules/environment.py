"""``environment``: which provider, image and machine serve each ALE snapshot tag.

A keyed description (a resource kind): nothing runs when it is "built"; experiments read it
at load time to pick each task's sandbox from its task card's ``vm.snapshot``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from alebuild.core.rule import LabelRef, Rule, Spec

__all__ = ["Environment", "EnvironmentSpec", "Snapshot"]


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = "local"
    image: LabelRef | None = None
    machine: dict[str, Any] = {}
    network: bool = False


class EnvironmentSpec(Spec):
    snapshots: dict[str, Snapshot]
    cleanup: Literal["delete", "stop", "keep"] = "delete"


class Environment(Rule):
    kind = "environment"
    Spec = EnvironmentSpec
    resource = True
