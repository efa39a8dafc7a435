"""TomlPositions: document paths to lines."""

from __future__ import annotations

import tomllib

from alebuild.core.tomlpos import TomlPositions, format_loc, trim_loc

DOC = '''\
[workspace]
cache_dir = "c"

[[workspace.remote]]
url = "gs://x"

[[genrule]]
name = "a"
cmd = """
not = "a key"
[[genrule]]
"""
srcs = [
  "x = 1",
  { y = 2 },
]
config.depth = 3

[[genrule]]
name = "b"   # second
'quoted key' = 1

[genrule.config]
depth = 4
[[genrule.sub]]
k = 1
'''


def test_positions():
    tomllib.loads(DOC)  # the fixture is valid TOML
    pos = TomlPositions(DOC)
    assert pos.line(("workspace",)) == 1
    assert pos.line(("workspace", "cache_dir")) == 2
    assert pos.line(("workspace", "remote", 0, "url")) == 5
    assert pos.line(("genrule", 0)) == 7
    assert pos.line(("genrule", 0, "cmd")) == 9
    assert pos.line(("genrule", 0, "srcs", 1)) == 13
    assert pos.line(("genrule", 0, "config", "depth")) == 17
    assert pos.line(("genrule", 1)) == 19
    assert pos.line(("genrule", 1, "name")) == 20
    assert pos.line(("genrule", 1, "quoted key")) == 21
    assert pos.line(("genrule", 1, "config", "depth")) == 24
    assert pos.line(("genrule", 1, "sub", 0, "k")) == 26
    assert pos.line(("genrule", 1, "missing")) == 19
    assert pos.line(("genrule", 2), default=-1) == -1
    assert pos.line(("nope",)) == 0


def test_loc_helpers():
    data = {"srcs": ["a", 3], "x": {"y": 1}}
    assert trim_loc(("srcs", 1, "is-instance[Label]"), data) == ("srcs", 1)
    assert trim_loc(("missing",), data) == ("missing",)
    assert trim_loc(("x", "y", "z"), data) == ("x", "y")
    assert format_loc(("srcs", 1, "a")) == "srcs[1].a"
