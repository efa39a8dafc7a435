"""``task_card.json``: the machine a task needs and how long it may take.

Only the fields alebuild acts on are typed; everything else on a card is catalogue text
and is kept (``extra="allow"``). Some ALE cards write ``vm.timeout_s`` instead of
``vm.timeout``: both are accepted and ``VmSpec.timeout_seconds`` picks one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alebuild.core.errors import UserError

__all__ = ["DEFAULT_TIMEOUT_S", "TaskCard", "VmSpec", "load_task_card"]

DEFAULT_TIMEOUT_S = 7200


class VmSpec(BaseModel):
    """The ``vm`` block of a task card."""

    model_config = ConfigDict(extra="allow")

    snapshot: str = "cpu-free-ubuntu"
    machineType: str = ""
    timeout: int | None = Field(default=None, gt=0)
    timeout_s: int | None = Field(default=None, gt=0)
    vcpus: int | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    disk_gb: float | None = Field(default=None, gt=0)

    @property
    def timeout_seconds(self) -> int:
        """``timeout``, else ``timeout_s``, else 7200."""
        if self.timeout is not None:
            return self.timeout
        if self.timeout_s is not None:
            return self.timeout_s
        return DEFAULT_TIMEOUT_S


class TaskCard(BaseModel):
    """A parsed ``task_card.json``. A card without ``vm`` gets the default VM."""

    model_config = ConfigDict(extra="allow")

    taskId: str
    title: str = ""
    summary: str = ""
    category: str = ""
    vm: VmSpec = Field(default_factory=VmSpec)
    requiredCredentials: list[dict[str, Any]] = Field(default_factory=list)
    evaluatorCredentials: list[dict[str, Any]] = Field(default_factory=list)


def _line_of_key(text: str, key: str) -> int | None:
    """1-based line of the first ``"key":`` in ``text`` (best effort, for messages)."""
    match = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def load_task_card(path: Path) -> TaskCard:
    """Read and validate a task card.

    Raises ``UserError`` naming the file (and line, field when known) when the file is
    unreadable, is not JSON, or has fields of the wrong type.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read task card: {exc}", file=file) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise UserError("a task card must be a JSON object", file=file, line=1)
    try:
        return TaskCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        key = next((part for part in reversed(loc) if not part.isdigit()), "")
        raise UserError(
            first["msg"],
            file=file,
            line=_line_of_key(text, key) if key else None,
            field=".".join(loc) or None,
        ) from exc
