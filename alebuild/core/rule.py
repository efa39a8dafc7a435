"""What a target kind is: a frozen pydantic ``Spec`` plus a ``Rule`` with one async ``run``.

A kind lives in one module under ``rules/`` and is registered by one line in the
``alebuild.rules`` entry-point group. The engine (loader, cache, scheduler) calls the hooks
below; a rule never computes keys and never touches the store directly: it describes its
inputs (``inputs``) and hands outputs to the ``ActionContext``.

Every spec field is in the action key unless declared with ``not_keyed()``: a forgotten
field costs a rebuild, never a wrong cache hit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from alebuild.core.labels import Label

if TYPE_CHECKING:
    from alebuild.core.target import Target

__all__ = [
    "Spec",
    "Rule",
    "LabelRef",
    "SrcRef",
    "not_keyed",
    "File",
    "Tree",
    "Blob",
    "Output",
    "DepResult",
    "LoadContext",
    "ActionContext",
    "CACHED_OUTCOMES",
    "OUTCOMES",
]

OUTCOMES = ("ok", "agent_failed", "infra_failed", "grader_error", "failed")
# Only results are cached; infra trouble is retried, grader errors and plain failures are not.
CACHED_OUTCOMES = frozenset({"ok", "agent_failed"})


def _to_label(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, Label):
        return value
    if not isinstance(value, str):
        return value  # pydantic reports the type error with the field name
    package = (info.context or {}).get("package", "")
    return Label.parse(value, current_package=package)


def _to_label_or_path(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str) and (value.startswith("//") or value.startswith(":")):
        return _to_label(value, info)
    return value


# A field typed LabelRef is a dependency: BUILD.toml writes a string, the spec holds a Label.
LabelRef = Annotated[Label, BeforeValidator(_to_label)]
# A source: a label (starts with // or :) or a package-relative path / glob.
SrcRef = Annotated[Label | str, BeforeValidator(_to_label_or_path)]


def not_keyed(default: Any = None, **kwargs: Any) -> Any:
    """Declare a spec field that does not enter the action key (display names, docs)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["keyed"] = False
    return Field(default, json_schema_extra=extra, **kwargs)


class Spec(BaseModel):
    """Base of every kind's spec: frozen, unknown fields rejected (a typo fails with file:line)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str

    @classmethod
    def keyed_fields(cls) -> list[str]:
        cached = cls.__dict__.get("_keyed_fields_cache")
        if cached is not None:
            return cached
        out = []
        for fname, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("keyed", True) and fname != "name":
                out.append(fname)
        cls._keyed_fields_cache = out  # per class: computed once, read for every target
        return out


@dataclass(frozen=True)
class File:
    """A workspace file whose digest (bytes + executable bit) enters the key."""

    path: Path


@dataclass(frozen=True)
class Tree:
    """A directory whose Merkle digest enters the key."""

    path: Path


@dataclass(frozen=True)
class Blob:
    """Derived bytes (e.g. source with a function stripped) whose digest enters the key."""

    data: bytes


@dataclass(frozen=True)
class Output:
    """What an action produced.

    ``outputs`` name CAS digests (blobs or trees) stored through the ActionContext.
    ``value`` is small deterministic JSON (e.g. a score) and, with ``outcome`` and
    ``outputs``, forms the output digest dependents are keyed on (so a byte-identical
    rebuild cuts off). ``meta`` is provenance, timing and cost: recorded, never keyed.
    """

    outcome: str = "ok"
    outputs: Mapping[str, str] = field(default_factory=dict)
    value: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class DepResult:
    """A finished dependency as seen by a dependent's ``run``."""

    label: Label
    outcome: str
    outputs: Mapping[str, str]
    value: Mapping[str, Any]
    output_digest: str
    key: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class LoadContext(Protocol):
    """What rules may look at while the graph is loaded (expand, deps, inputs)."""

    root: Path

    def target(self, label: Label) -> Target:
        """The target behind ``label``, loading its package on demand (UserError if missing)."""

    def package_dir(self, package: str) -> Path: ...


class ActionContext(Protocol):
    """What the engine hands a rule's ``run``. Storage goes through here, never around it."""

    target: Target
    root: Path
    package_dir: Path
    key: str
    build_id: str
    services: dict[str, Any]  # build-scoped shared objects (providers, pools), keyed by name

    def dep(self, label: Label) -> DepResult: ...
    def scratch(self) -> Path: ...
    def store_bytes(self, data: bytes) -> str: ...
    def store_file(self, path: Path) -> str: ...
    def store_tree(self, path: Path) -> str: ...
    def read_bytes(self, digest: str) -> bytes: ...
    def materialize(self, digest: str, dest: Path) -> None: ...
    def secret(self, name: str) -> str: ...
    def log(self, message: str) -> None: ...


class Rule:
    """Base class of a target kind. Subclasses set ``kind`` and ``Spec`` and implement ``run``.

    Hooks, all optional except ``run``:
    - ``deps``: labels this target depends on (default: every LabelRef value in the spec).
    - ``expand``: generated targets (macros such as an experiment); called at load time.
    - ``inputs``: extra keyed inputs beyond the spec: ``File``/``Tree``/``Blob`` or plain JSON.
    - ``resources``: named pool units the action holds while it runs.
    - ``timeout``: seconds before the engine cancels the action (outcome ``failed``).
    - ``dep_outputs``: key on selected outputs of a dependency instead of its whole result.
    - ``present``: render a finished root for humans after a build (scoreboards).
    - ``implicit_targets``: targets for a folder that has no BUILD.toml (e.g. ALE tasks).
    """

    kind: ClassVar[str]
    Spec: ClassVar[type[Spec]]
    version: ClassVar[int] = 1
    # Not cacheable kinds (sandboxes) are never looked up nor stored.
    cacheable: ClassVar[bool] = True
    # A rule that must see failed dependencies (to report them) instead of being skipped.
    tolerates_failed_deps: ClassVar[bool] = False
    # A resource kind (a sandbox) is never executed nor cached: it is a keyed description that
    # dependents acquire lazily inside their own action; its "output digest" is its key.
    resource: ClassVar[bool] = False

    def deps(self, target: Target, ctx: LoadContext) -> list[Label]:
        return sorted(set(_labels_in(target.spec)))

    def dep_outputs(self, target: Target, dep: Label) -> tuple[str, ...] | None:
        """Which named outputs of ``dep`` enter this target's key (None: the whole result).

        Lets a run depend on a task's run-time material only, so a grader edit that changes
        the task's grade material re-runs no agent. ``@key`` / ``@digest`` select the
        dependency's action key / whole output digest.
        """
        return None

    def expand(self, target: Target, ctx: LoadContext) -> list[dict[str, Any]]:
        """Generated targets as raw dicts ``{"kind": ..., "name": ..., **fields}``."""
        return []

    def inputs(self, target: Target, ctx: LoadContext) -> dict[str, Any]:
        return {}

    def resources(self, target: Target) -> dict[str, int]:
        return {}

    def timeout(self, target: Target) -> float | None:
        return None

    @classmethod
    def implicit_targets(cls, directory: Path) -> list[dict[str, Any]] | None:
        return None

    async def run(self, target: Target, ctx: ActionContext) -> Output:
        raise NotImplementedError

    def present(self, target: Target, result: DepResult, services: dict[str, Any], stream: Any) -> None:
        """Optional: print a human summary of a built root (called after the build)."""


def _labels_in(value: Any):
    if isinstance(value, Label):
        yield value
    elif isinstance(value, BaseModel):
        for fname in type(value).model_fields:
            yield from _labels_in(getattr(value, fname))
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _labels_in(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _labels_in(v)
