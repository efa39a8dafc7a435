"""Package discovery and pattern resolution."""

from __future__ import annotations

import pytest
from fake_rules import registry, workspace

from alebuild.core import Loader, UserError, WorkspaceConfig

LIB = '[[lib]]\nname = "t"\n'


@pytest.fixture
def loader(tmp_path):
    return workspace(
        tmp_path,
        {
            "BUILD.toml": '[workspace]\n[[lib]]\nname = "root"\n',
            "a/BUILD.toml": LIB,
            "a/b/BUILD.toml": LIB + '[[lib]]\nname = "u"\n',
            "a/b/c/notes.txt": "",
            "ab/BUILD.toml": LIB,
            "tasks/d/task1/MARKER": "",
            "tasks/d/task1/input/BUILD.toml": LIB,
            ".hidden/BUILD.toml": LIB,
            "node_modules/x/BUILD.toml": LIB,
            "cache/BUILD.toml": LIB,
            "out/BUILD.toml": LIB,
            "scratch/BUILD.toml": LIB,
            "nested/BUILD.toml": "[workspace]\n",
            "nested/inner/BUILD.toml": LIB,
            "a/b/c/My Docs/BUILD.toml": LIB,
        },
    )


def test_iter_packages_skips_and_orders(loader):
    assert list(loader.iter_packages()) == [
        "",
        "a",
        "a/b",
        "ab",
        "scratch",
        "tasks/d/task1",
    ]
    assert list(loader.iter_packages("a")) == ["a", "a/b"]
    assert list(loader.iter_packages("a", recursive=False)) == ["a"]
    assert list(loader.iter_packages("missing")) == []


def test_config_ignore(tmp_path, loader):
    ignoring = Loader(tmp_path, registry(), WorkspaceConfig(ignore=["scratch"], out_dir="ab"))
    assert "scratch" not in list(ignoring.iter_packages())
    assert "ab" not in list(ignoring.iter_packages())


def test_resolve_patterns(loader):
    def res(*patterns, pkg=""):
        return [str(lb) for lb in loader.resolve(list(patterns), pkg)]

    assert res("//a/...") == ["//a:t", "//a/b:t", "//a/b:u"]
    assert res("//a/b:all") == ["//a/b:t", "//a/b:u"]
    assert res(":all", pkg="a") == ["//a:t"]
    # an implicit package is a leaf: its data folders are not walked
    assert res("//tasks/...") == ["//tasks/d/task1:task1"]
    assert res("//:root", "//a:t", "//a/...") == ["//:root", "//a:t", "//a/b:t", "//a/b:u"]
    assert len(res("//...")) == 7


def test_pattern_matching_nothing_is_an_error(loader):
    with pytest.raises(UserError, match=r"^pattern '//a/b/c/\.\.\.' matches no targets$"):
        loader.resolve(["//a/b/c/..."])
    with pytest.raises(UserError, match="no package 'a/b/c'"):
        loader.resolve(["//a/b/c:all"])
    with pytest.raises(UserError, match="no target 'zz' in package 'a'"):
        loader.resolve(["//a:zz"])
    with pytest.raises(UserError, match="bad label"):
        loader.resolve(["a:zz"])


def test_broken_unrelated_package_only_breaks_patterns_covering_it(loader, tmp_path):
    (tmp_path / "ab/BUILD.toml").write_text("[[lib]]\nname = 3\n")
    assert [str(lb) for lb in loader.resolve(["//a/..."])] == ["//a:t", "//a/b:t", "//a/b:u"]
    with pytest.raises(UserError, match="ab/BUILD.toml:1"):
        loader.resolve(["//..."])
