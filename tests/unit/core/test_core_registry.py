"""Registry: lazy entry points, duplicates, unknown kinds, implicit rules."""

from __future__ import annotations

import sys

import pytest
from fake_rules import Lib, Macro, Marker, registry

from alebuild.core import Registry, Rule, UserError


def test_unknown_kind_lists_known_ones():
    with pytest.raises(UserError) as exc:
        registry().get("nope")
    assert str(exc.value) == "unknown kind 'nope'; known kinds: lib, macro, marker, peek"


def test_duplicates_rejected_for_classes_and_refs():
    reg = Registry({"lib": "somewhere:Lib"})
    with pytest.raises(UserError, match="kind 'lib' is already registered"):
        reg.register("lib", Lib)
    reg.register("macro", Macro)
    with pytest.raises(UserError, match="kind 'macro' is already registered"):
        reg.register("macro", Macro)


def test_registration_checks_class():
    reg = Registry()
    with pytest.raises(UserError, match="not a Rule"):
        reg.register("x", object)
    with pytest.raises(UserError, match="whose kind is 'lib'"):
        reg.register("other", Lib)


def test_entry_points_import_lazily():
    reg = Registry({"lib": "fake_rules:Lib", "broken": "no_such_module_xyz:Rule"})
    assert reg.kinds() == ["broken", "lib"] and reg.has("broken")
    assert "no_such_module_xyz" not in sys.modules
    rule = reg.get("lib")
    assert isinstance(rule, Lib) and reg.get("lib") is rule
    with pytest.raises(UserError, match="kind 'broken' is registered as 'no_such_module_xyz:Rule'"):
        reg.get("broken")


def test_default_reads_installed_entry_points():
    reg = Registry.default()
    assert reg.has("genrule")


def test_implicit_rules_are_those_overriding_the_hook():
    rules = registry().implicit_rules()
    assert [type(r) for r in rules] == [Marker]
    assert all(isinstance(r, Rule) for r in rules)
