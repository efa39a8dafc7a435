"""Provider name -> Provider class.

Built-in providers are a table of ``"name": "module:Class"`` references, imported only when
asked for; outside packages add providers through the ``alebuild.providers`` entry-point
group, consulted lazily (only for a name the table lacks). A name claimed twice with
different references is an error, never a silent override.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from alebuild.core.errors import UserError
from alebuild.sandbox.base import Provider

__all__ = ["BUILTIN_PROVIDERS", "ENTRY_POINT_GROUP", "get_provider_class", "known_providers"]

ENTRY_POINT_GROUP = "alebuild.providers"
BUILTIN_PROVIDERS: dict[str, str] = {
    "local": "alebuild.sandbox.local:LocalProvider",
}


def _outside_refs() -> dict[str, str]:
    refs: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if refs.get(ep.name, ep.value) != ep.value or (
            BUILTIN_PROVIDERS.get(ep.name, ep.value) != ep.value
        ):
            first = refs.get(ep.name) or BUILTIN_PROVIDERS[ep.name]
            raise UserError(f"provider '{ep.name}' is registered twice: '{first}' and '{ep.value}'")
        refs[ep.name] = ep.value
    return refs


def known_providers() -> list[str]:
    """Every provider name, built-in and installed."""
    return sorted({*BUILTIN_PROVIDERS, *_outside_refs()})


def get_provider_class(name: str) -> type[Provider]:
    """The Provider class registered as ``name``; ``UserError`` (listing the known names)
    if there is none or it cannot be loaded."""
    ref = BUILTIN_PROVIDERS.get(name) or _outside_refs().get(name)
    if ref is None:
        raise UserError(
            f"unknown sandbox provider '{name}'", hint="known: " + ", ".join(known_providers())
        )
    module_name, _, attr = ref.partition(":")
    try:
        cls: object = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"provider '{name}' is registered as '{ref}' but cannot be loaded: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise UserError(f"provider '{name}' is registered as '{ref}', which is not a Provider")
    return cls
