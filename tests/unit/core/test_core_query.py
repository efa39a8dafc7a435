"""Query language and output formats."""

from __future__ import annotations

import json

import pytest
from fake_rules import workspace

from alebuild.core import Label, UserError, build_graph
from alebuild.core.query import evaluate, render


@pytest.fixture
def loader(tmp_path):
    return workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
            [[lib]]
            name = "x"
            deps = [":y"]
            [[lib]]
            name = "y"
            deps = ["//b:z"]
            [[macro]]
            name = "m"
            dep = "//b:z"
            """,
            "b/BUILD.toml": '[[lib]]\nname = "z"\n[[lib]]\nname = "other"\n',
        },
    )


def names(labels):
    return [str(lb) for lb in labels]


def test_label_and_patterns(loader):
    assert names(evaluate("//a:x", loader)) == ["//a:x"]
    assert names(evaluate("//b:all", loader)) == ["//b:other", "//b:z"]
    assert names(evaluate(":z", loader, current_package="b")) == ["//b:z"]


def test_deps(loader):
    assert names(evaluate("deps(//a:x)", loader)) == ["//a:x", "//a:y", "//b:z"]


def test_rdeps(loader):
    assert names(evaluate("rdeps(//..., //b:z)", loader)) == [
        "//a:m",
        "//a:m/0",
        "//a:x",
        "//a:y",
        "//b:z",
    ]
    # the universe limits the answer
    assert names(evaluate("rdeps(//a:y, //b:z)", loader)) == ["//a:y", "//b:z"]


def test_kind_nested(loader):
    assert names(evaluate("kind(macro, //...)", loader)) == ["//a:m"]
    assert names(evaluate("kind('l.b', deps(//a:m/0))", loader)) == ["//a:m/0", "//b:z"]
    assert evaluate("kind(mac, //...)", loader) == []  # whole-name match


@pytest.mark.parametrize(
    "expr, why",
    [
        ("deps(//a:x", "unexpected end"),
        ("deps(//a:x))", "unexpected ')'"),
        ("dep(//a:x)", "unknown function 'dep'"),
        ("rdeps(//a:x)", "rdeps() takes 2 argument(s), got 1"),
        ("kind(deps(//a:x), //a:x)", "first argument must be a kind pattern"),
        ("kind('[', //a:x)", "bad pattern"),
    ],
)
def test_bad_syntax(loader, expr, why):
    with pytest.raises(UserError) as exc:
        evaluate(expr, loader)
    assert why in str(exc.value)


def test_render_formats(loader):
    labels = evaluate("deps(//a:y)", loader)
    graph = build_graph(loader, labels)
    assert render(labels, graph, "text") == "//a:y\n//b:z\n"
    assert json.loads(render(labels, graph, "json")) == [
        {"label": "//a:y", "kind": "lib", "deps": ["//b:z"]},
        {"label": "//b:z", "kind": "lib", "deps": []},
    ]
    assert render(labels, graph, "dot") == (
        "digraph alebuild {\n"
        '  "//a:y" [label="//a:y\\nlib"];\n'
        '  "//b:z" [label="//b:z\\nlib"];\n'
        '  "//a:y" -> "//b:z";\n'
        "}\n"
    )
    with pytest.raises(UserError, match="unknown output format"):
        render(labels, graph, "yaml")


def test_unknown_label_in_query(loader):
    with pytest.raises(UserError, match="no target 'nope' in package 'a'"):
        evaluate("deps(//a:nope)", loader)
    assert Label("a", "x") in evaluate("//...", loader)
