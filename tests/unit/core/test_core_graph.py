"""Graph: closure, rdeps, deterministic topological order, cycles."""

from __future__ import annotations

import pytest
from fake_rules import workspace

from alebuild.core import CycleError, Label, build_graph


def L(text: str) -> Label:
    return Label.parse(text)


def test_closure_deps_rdeps(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": '[[lib]]\nname = "x"\ndeps = [":y", "//b:z"]\n[[lib]]\nname = "y"\n'
            'deps = ["//b:z"]\n[[lib]]\nname = "unused"\n',
            "b/BUILD.toml": '[[lib]]\nname = "z"\n',
        },
    )
    g = build_graph(loader, [L("//a:x")])
    assert set(g.targets) == {L("//a:x"), L("//a:y"), L("//b:z")}
    assert g.roots == (L("//a:x"),)
    assert g.deps[L("//a:x")] == (L("//a:y"), L("//b:z"))
    assert g.rdeps(L("//b:z")) == (L("//a:x"), L("//a:y"))
    assert g.rdeps(L("//a:x")) == ()
    assert g.reachable([L("//b:z")], reverse=True) == set(g.targets)


def test_topo_order_dependencies_first_ties_by_label(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "top"
        deps = [":m2", ":m1"]
        [[lib]]
        name = "m2"
        deps = [":leaf_b"]
        [[lib]]
        name = "m1"
        deps = [":leaf_a", ":leaf_b"]
        [[lib]]
        name = "leaf_b"
        [[lib]]
        name = "leaf_a"
        [[lib]]
        name = "alone"
        """
        },
    )
    roots = [L("//a:top"), L("//a:alone")]
    expected = ["alone", "leaf_a", "leaf_b", "m1", "m2", "top"]
    for order in (roots, roots[::-1]):
        g = build_graph(loader, order)
        assert [lb.name for lb in g.topo_order()] == expected


def test_cycle_error_prints_cycle(tmp_path):
    loader = workspace(
        tmp_path,
        {
            "a/BUILD.toml": """
        [[lib]]
        name = "entry"
        deps = [":y"]
        [[lib]]
        name = "y"
        deps = [":z"]
        [[lib]]
        name = "z"
        main = ":x"
        [[lib]]
        name = "x"
        deps = [":y"]
        """
        },
    )
    with pytest.raises(CycleError) as exc:
        build_graph(loader, [L("//a:entry")])
    assert exc.value.cycle == ["//a:x", "//a:y", "//a:z", "//a:x"]
    assert str(exc.value) == "dependency cycle: //a:x -> //a:y -> //a:z -> //a:x"


def test_self_dependency_is_a_cycle(tmp_path):
    loader = workspace(tmp_path, {"a/BUILD.toml": '[[lib]]\nname = "x"\ndeps = [":x"]\n'})
    with pytest.raises(CycleError, match=r"//a:x -> //a:x$"):
        build_graph(loader, [L("//a:x")])


def test_large_chain_needs_no_recursion(tmp_path):
    n = 5000
    body = "".join(f'[[lib]]\nname = "t{i}"\ndeps = [":t{i + 1}"]\n' for i in range(n))
    loader = workspace(tmp_path, {"a/BUILD.toml": body + f'[[lib]]\nname = "t{n}"\n'})
    g = build_graph(loader, [L("//a:t0")])
    order = g.topo_order()
    assert len(order) == n + 1 and order[0] == L(f"//a:t{n}") and order[-1] == L("//a:t0")
