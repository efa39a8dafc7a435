"""Providers found by name: the built-in table and lazily loaded entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from alebuild.core.errors import UserError
from alebuild.sandbox import registry
from alebuild.sandbox.local import LocalProvider


def _eps(*pairs):
    return lambda group: [EntryPoint(name=n, value=v, group=group) for n, v in pairs]


def test_builtin_local():
    assert registry.get_provider_class("local") is LocalProvider
    assert "local" in registry.known_providers()


def test_unknown_lists_known_names():
    with pytest.raises(UserError, match="known: local") as err:
        registry.get_provider_class("nope")
    assert "nope" in str(err.value)


def test_entry_point_provider(monkeypatch):
    monkeypatch.setattr(
        registry, "entry_points", _eps(("outside", "alebuild.sandbox.local:LocalProvider"))
    )
    assert registry.get_provider_class("outside") is LocalProvider
    assert registry.known_providers() == ["local", "outside"]


def test_entry_point_clashing_with_builtin_is_rejected(monkeypatch):
    monkeypatch.setattr(registry, "entry_points", _eps(("local", "elsewhere:Local")))
    with pytest.raises(UserError, match="registered twice"):
        registry.get_provider_class("other")


@pytest.mark.parametrize("ref", ["no_such_module_xyz:P", "alebuild.sandbox.base:ExecResult"])
def test_bad_entry_point(monkeypatch, ref):
    monkeypatch.setattr(registry, "entry_points", _eps(("bad", ref)))
    with pytest.raises(UserError, match="provider 'bad'"):
        registry.get_provider_class("bad")
