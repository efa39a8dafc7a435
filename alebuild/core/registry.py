"""Kind name -> Rule class, from the ``alebuild.rules`` entry points plus explicit registrations.

Entry points are resolved lazily: a rule module is imported only when its kind is first
asked for, so a broken or slow module never affects builds that do not use it. Built-in and
outside kinds register the same way; a name registered twice is an error, never a silent
override.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from alebuild.core.errors import UserError
from alebuild.core.rule import Rule

__all__ = ["Registry", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "alebuild.rules"


def _import_ref(kind: str, ref: str) -> type[Rule]:
    module_name, _, attr = ref.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"kind '{kind}' is registered as '{ref}' but cannot be loaded: {exc}"
        ) from exc
    return obj  # type: ignore[return-value]


class Registry:
    """Maps kind names to Rule classes and hands out one cached Rule instance per kind.

    ``refs`` are lazy registrations ``{kind: "module:Class"}`` (what entry points hold).
    """

    def __init__(self, refs: dict[str, str] | None = None) -> None:
        self._refs: dict[str, str] = dict(refs or {})
        self._classes: dict[str, type[Rule]] = {}
        self._instances: dict[str, Rule] = {}
        self._implicit: list[Rule] | None = None

    @classmethod
    def default(cls) -> Registry:
        """A registry holding every installed ``alebuild.rules`` entry point (not yet imported)."""
        refs: dict[str, str] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in refs and refs[ep.name] != ep.value:
                raise UserError(
                    f"kind '{ep.name}' is registered twice: '{refs[ep.name]}' and '{ep.value}'"
                )
            refs[ep.name] = ep.value
        return cls(refs)

    def register(self, kind: str, cls: type[Rule]) -> None:
        """Add a kind. Raises UserError if the name is taken or ``cls`` is not a Rule."""
        if kind in self._refs or kind in self._classes:
            where = self._refs.get(kind) or self._classes[kind].__qualname__
            raise UserError(f"kind '{kind}' is already registered (by {where})")
        self._check(kind, cls)
        self._classes[kind] = cls
        self._implicit = None

    @staticmethod
    def _check(kind: str, cls: object) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Rule)):
            raise UserError(f"kind '{kind}' is registered with {cls!r}, which is not a Rule")
        declared = getattr(cls, "kind", kind)
        if declared != kind:
            raise UserError(
                f"kind '{kind}' is registered with {cls.__qualname__}, whose kind is '{declared}'"
            )

    def kinds(self) -> list[str]:
        return sorted({*self._refs, *self._classes})

    def has(self, kind: str) -> bool:
        return kind in self._classes or kind in self._refs

    def rule_class(self, kind: str) -> type[Rule]:
        """The Rule class of ``kind``, importing its module on first use."""
        cls = self._classes.get(kind)
        if cls is not None:
            return cls
        ref = self._refs.get(kind)
        if ref is None:
            raise UserError(f"unknown kind '{kind}'; known kinds: {', '.join(self.kinds())}")
        cls = _import_ref(kind, ref)
        self._check(kind, cls)
        self._classes[kind] = cls
        return cls

    def get(self, kind: str) -> Rule:
        """The single Rule instance for ``kind`` (UserError if the kind is unknown)."""
        rule = self._instances.get(kind)
        if rule is None:
            rule = self._instances[kind] = self.rule_class(kind)()
        return rule

    def implicit_rules(self) -> list[Rule]:
        """Rules whose class overrides ``Rule.implicit_targets``, in kind order.

        This imports every registered kind, so callers ask only when they must decide
        whether a folder without BUILD.toml is a package.
        """
        if self._implicit is None:
            self._implicit = [
                self.get(kind)
                for kind in self.kinds()
                if self.rule_class(kind).implicit_targets.__func__  # type: ignore[attr-defined]
                is not Rule.implicit_targets.__func__  # type: ignore[attr-defined]
            ]
        return self._implicit
