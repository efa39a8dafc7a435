"""Loader: BUILD.toml parsing, validation errors with exact file:line:field, macros, laziness."""

from __future__ import annotations

import pytest
from fake_rules import workspace

from alebuild.core import Label, UserError, build_graph


def err(loader, label: str) -> str:
    with pytest.raises(UserError) as exc:
        build_graph(loader, [Label.parse(label)])
    return str(exc.value)


def test_loads_targets_with_specs_deps_and_positions(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"
        srcs = ["x.py", ":y"]
        count = 2

        [[lib]]
        name = "y"
        deps = ["//b:z"]
        """,
            "b/BUILD.toml": '[[lib]]\nname = "z"\n',
        },
    )
    x = loader.target(Label("a", "x"))
    assert (x.kind, x.file, x.line, x.spec.count) == ("lib", "a/BUILD.toml", 1, 2)
    assert x.spec.srcs == ["x.py", Label("a", "y")]
    assert x.deps == (Label("a", "y"),)
    y = loader.target(Label("a", "y"))
    assert (y.line, y.deps) == (6, (Label("b", "z"),))
    assert list(loader.package("a")) == ["x", "y"]


def test_unknown_kind_names_header_line(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"

        [[libb]]
        name = "y"
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:4: unknown kind 'libb'; known kinds: lib, macro, marker, peek"
    )


def test_unknown_field_names_line_and_suggests(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"
        cuont = 3
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:3: field 'cuont' of lib //a:x: Extra inputs are not permitted"
        " (did you mean 'count'?)"
    )


def test_mistyped_field_in_second_entry(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"

        [[lib]]
        name = "y"
        count = "many"
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:6: field 'count' of lib //a:y: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


def test_mistyped_list_item_of_union_field(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "BUILD.toml": """
        [workspace]

        [[lib]]
        name = "x"
        srcs = [
          "a.py",
          3,
        ]
        """
        },
    )
    assert err(loader, "//:x") == (
        "BUILD.toml:5: field 'srcs[1]' of lib //:x: "
        "Input should be a dictionary or an instance of Label; Input should be a valid string"
    )


def test_duplicate_name_names_both_lines(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"

        [[macro]]
        name = "x"
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:4: duplicate target name 'x': declared at lines 1 and 4"
    )


def test_bad_label_syntax_names_field(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"
        doc = "text"
        deps = [":ok", "//bad path"]
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:4: field 'deps[1]' of lib //a:x: "
        "bad label '//bad path': package segment 'bad path' is not allowed"
    )


def test_bad_target_name(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\ncount = 1\nname = "x y"\n'})
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:3: field 'name' of lib: bad label '//a:x y': target name 'x y' is not allowed"
    )


def test_missing_name(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\nname = "x"\n[[lib]]\ncount = 1\n'})
    assert err(loader, "//a:x") == "a/BUILD.toml:3: [[lib]] entry has no 'name' string"


def test_label_to_missing_target_names_referring_field(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
            [[lib]]
            name = "x"
            doc = "hi"
            main = "//b:y"
            """,
            "b/BUILD.toml": '[[lib]]\nname = "yy"\n',
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:4: field 'main' of //a:x: no target 'y' in package 'b' (did you mean 'yy'?)"
    )


def test_label_to_missing_package_names_referring_field(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "w"

        [[lib]]
        name = "x"
        deps = [
            ":w",
            "//nope:y",
        ]
        """
        },
    )
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:6: field 'deps[1]' of //a:x: no package 'nope'"
        " (no BUILD.toml in 'nope' and no kind claims the folder)"
    )


def test_malformed_toml_names_line(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\nname = "x\n'})
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:2: invalid TOML: Illegal character '\\n' (at line 2, column 10)"
    )


def test_top_level_key_that_is_not_an_array_of_tables(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '# c\n[lib]\nname = "x"\n'})
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:2: 'lib' must be an array of tables ([[lib]]), one per target"
    )


def test_workspace_table_outside_root_is_an_error(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\nname = "x"\n[workspace]\n'})
    assert err(loader, "//a:x") == (
        "a/BUILD.toml:3: a [workspace] table belongs only in the workspace root BUILD.toml"
    )


def test_broken_package_does_not_break_unrelated_one(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": '[[lib]]\nname = "x"\ndeps = ["//c:z"]\n',
            "b/BUILD.toml": "[[lib]\nthis is not toml",
            "c/BUILD.toml": '[[lib]]\nname = "z"\n',
        },
    )
    graph = build_graph(loader, [Label("a", "x")])
    assert sorted(graph.targets) == [Label("a", "x"), Label("c", "z")]
    with pytest.raises(UserError, match=r"^b/BUILD.toml:1: invalid TOML"):
        loader.package("b")


def test_macro_expands_into_same_package(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "base"

        [[macro]]
        name = "m"
        copies = 2
        dep = ":base"
        """
        },
    )
    names = list(loader.package("a"))
    assert names == ["base", "m", "m/0", "m/1"]
    gen = loader.target(Label("a", "m/1"))
    assert (gen.kind, gen.file, gen.line, gen.generated_by) == (
        "lib",
        "a/BUILD.toml",
        4,
        Label("a", "m"),
    )
    assert gen.deps == (Label("a", "base"),)


def test_error_in_generated_target_names_macro_line(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "base"

        [[macro]]
        name = "m"
        extra = { bogus = 1 }
        """
        },
    )
    assert err(loader, "//a:base") == (
        "a/BUILD.toml:4: field 'bogus' of lib //a:m/0 (generated by //a:m): "
        "Extra inputs are not permitted"
    )


def test_generated_name_collision(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "m/0"

        [[macro]]
        name = "m"
        """
        },
    )
    assert err(loader, "//a:m") == (
        "a/BUILD.toml:4: target 'm/0' generated by //a:m collides with "
        "the target declared at a/BUILD.toml:1"
    )


def test_macro_may_look_at_own_and_other_packages(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": '[[lib]]\nname = "x"\n[[peek]]\nname = "p"\nlook = ":x"\n'
            '[[peek]]\nname = "q"\nlook = "//b:y"\n',
            "b/BUILD.toml": '[[lib]]\nname = "y"\n',
        },
    )
    assert set(loader.package("a")) == {"x", "p", "q"}


def test_package_load_cycle_is_reported(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": '[[peek]]\nname = "p"\nlook = "//b:q"\n',
            "b/BUILD.toml": '# c\n[[peek]]\nname = "q"\nlook = "//a:p"\n',
        },
    )
    with pytest.raises(UserError) as exc:
        loader.package("a")
    assert str(exc.value) == (
        "b/BUILD.toml:2: peek //b:q: package load cycle: //a -> //b -> //a"
        " (a macro or deps() looks at a package that is still loading)"
    )


def test_implicit_package_from_marker_folder(tmp_path):
    loader = workspace(tmp_path, {"tasks/d/t1/MARKER": "", "tasks/d/t2/other": ""})
    t = loader.target(Label("tasks/d/t1", "t1"))
    assert (t.kind, t.spec.count, t.file) == ("marker", 1, "tasks/d/t1")
    with pytest.raises(UserError, match="no package 'tasks/d/t2'"):
        loader.package("tasks/d/t2")


def test_missing_target_suggests_close_names(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\nname = "compile"\n'})
    with pytest.raises(UserError) as exc:
        loader.target(Label("a", "compil"))
    assert str(exc.value) == "no target 'compil' in package 'a' (did you mean 'compile'?)"


def test_fast_default_deps_match_rule_deps(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "x"
        srcs = ["f.py", ":b", "//c:d"]
        deps = [":b", "//c:d", ":a"]
        main = ":a"
        """
        },
    )
    x = loader.target(Label("a", "x"))
    from alebuild.core import Rule

    assert x.deps == tuple(Rule.deps(x.rule, x, loader))
    assert x.deps == (Label("a", "a"), Label("a", "b"), Label("c", "d"))


def test_custom_deps_hook_and_its_errors(tmp_path):
    from fake_rules import Lib, registry

    from alebuild.core import Loader

    class Picky(Lib):
        kind = "picky"

        def deps(self, target, ctx):
            if target.spec.count < 0:
                raise UserError("count must not be negative")
            return [Label("z", "z"), Label("z", "z"), Label("a", "a")]

    reg = registry()
    reg.register("picky", Picky)
    (tmp_path / "BUILD.toml").write_text("[workspace]\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a/BUILD.toml").write_text(
        '[[picky]]\nname = "ok"\n\n[[picky]]\nname = "bad"\ncount = -1\n'
    )
    loader = Loader(tmp_path, reg)
    with pytest.raises(UserError) as exc:
        loader.package("a")
    assert str(exc.value) == "a/BUILD.toml:4: picky //a:bad: count must not be negative"
    (tmp_path / "a/BUILD.toml").write_text('[[picky]]\nname = "ok"\n')
    assert loader.target(Label("a", "ok")).deps == (Label("z", "z"), Label("a", "a"))


def test_unknown_kind_with_empty_array(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '# c\nnope = []\n[[lib]]\nname = "x"\n'})
    with pytest.raises(UserError) as exc:
        loader.package("a")
    assert str(exc.value).startswith("a/BUILD.toml:2: unknown kind 'nope'; known kinds: lib")


def test_from_workspace_finds_root_and_config(tmp_path):
    from fake_rules import registry

    from alebuild.core import Loader

    workspace(
        tmp_path, {"BUILD.toml": '[workspace]\nout_dir = "build-out"\n', "a/b/BUILD.toml": ""}
    )
    loader = Loader.from_workspace(tmp_path / "a" / "b", registry())
    assert loader.root == tmp_path.resolve()
    assert loader.config.out_dir == "build-out"
    assert loader.package("a/b") == {}
