"""What a build decides and reports: options, per-action states, plans, results.

Plain values shared by the scheduler, the no-op fast path and the API; no behaviour
beyond deriving the summary of DESIGN section 6.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alebuild.cache.action_cache import ActionCache
from alebuild.cache.digest import digest_json
from alebuild.core.labels import Label
from alebuild.core.rule import CACHED_OUTCOMES, DepResult

__all__ = [
    "BuildOptions", "ActionState", "PlanEntry", "BuildResult", "output_digest", "replay_cached",
]


@dataclass
class BuildOptions:
    jobs: int = 8
    resources: dict[str, int] = field(default_factory=dict)
    attempts: int = 3  # total tries for infra_failed actions
    backoff_s: float = 1.0
    use_cache: bool = True
    # Kinds to sample again: their keys get this salt, so fresh results are recorded beside
    # (not over) the cached ones, e.g. --rerun-agents resamples agent_run.
    resample_kinds: frozenset[str] = frozenset()
    resample_salt: str = ""


@dataclass
class ActionState:
    label: Label
    kind: str
    status: str  # cached | executed | skipped
    outcome: str
    key: str | None = None
    output_digest: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    value: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    reason: str | None = None
    user_error: bool = False

    @property
    def settled_ok(self) -> bool:
        return self.outcome in CACHED_OUTCOMES

    def as_dep(self) -> DepResult:
        return DepResult(
            label=self.label,
            outcome=self.outcome,
            outputs=self.outputs,
            value=self.value,
            output_digest=self.output_digest or "",
            key=self.key,
            meta=self.meta,
        )


@dataclass(frozen=True)
class PlanEntry:
    label: Label
    kind: str
    action: str  # cached | run | maybe (waits on a dependency that will run)
    reasons: list[str]
    key: str | None


@dataclass(repr=False)  # the default repr walks every state: costly at 15,000 targets
class BuildResult:
    build_id: str
    roots: list[Label]
    states: dict[Label, ActionState]
    counters: Counter
    log_path: Path | None
    final: dict[str, Any] | None = None  # the summary, fixed when the build ends
    replayed: bool = False  # a recorded no-op replayed without loading (exec.snapshot)

    def __repr__(self) -> str:
        return f"<BuildResult {self.build_id}: {len(self.states)} actions, ok={self.ok}>"

    @property
    def ok(self) -> bool:
        return all(s.settled_ok for s in self.states.values())

    @property
    def exit_code(self) -> int:
        if self.ok:
            return 0
        return 2 if any(s.user_error for s in self.states.values()) else 1

    def summary(self) -> dict[str, Any]:
        """The machine-readable outcome of DESIGN section 6 (final once the build ended)."""
        if self.final is not None:
            return self.final
        states = sorted(self.states.values(), key=lambda s: s.label)
        results = {}
        for label in self.roots:
            st = self.states.get(label)
            if st is not None and st.output_digest:
                results[str(label)] = st.value.get("result_hash", st.output_digest)
        return {
            "build_id": self.build_id,
            "executed": [str(s.label) for s in states if s.status == "executed"],
            "cached": [str(s.label) for s in states if s.status == "cached"],
            "failed": [
                {"label": str(s.label), "outcome": s.outcome, "reason": s.reason}
                for s in states
                if not s.settled_ok
            ],
            "sandboxes_provisioned": self.counters.get("sandboxes_provisioned", 0),
            "images_built": self.counters.get("images_built", 0),
            "results": results,
        }


def output_digest(outcome: str, outputs: Mapping[str, str], value: Mapping[str, Any], algo: str) -> str:
    return digest_json({"outcome": outcome, "outputs": dict(outputs), "value": dict(value)}, algo)


def _trusted_label(text: str) -> Label:
    """A label this engine wrote itself (``str(label)``): split, not re-validated."""
    package, _, name = text[2:].partition(":")
    return Label(package, name)


def replay_cached(
    targets: list[tuple[str, str, str, bool]], action_cache: ActionCache
) -> dict[Label, ActionState] | None:
    """States of a recorded no-op build, straight from the action cache (see exec.snapshot).

    None as soon as one record or blob is missing: the caller then builds normally.
    """
    states: dict[Label, ActionState] = {}
    for label_text, kind, key, is_resource in targets:
        label = _trusted_label(label_text)
        if is_resource:
            states[label] = ActionState(label, kind, "resource", "ok", key=key, output_digest=key)
            continue
        rec = action_cache.get_fields(key)
        if rec is None or rec["outcome"] not in CACHED_OUTCOMES:
            return None
        states[label] = ActionState(
            label, kind, "cached", rec["outcome"], key, rec["output_digest"], rec["outputs"],
            rec["value"], rec["meta"],
        )
    return states
