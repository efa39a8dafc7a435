"""The parsed-BUILD.toml cache: hits only for unchanged files, never for fresh ones."""

from __future__ import annotations

import os
import time

from alebuild.core.labels import Label
from alebuild.core.loader import Loader
from alebuild.core.parsecache import ParseCache
from alebuild.core.registry import Registry

BUILD = '[[genrule]]\nname = "a"\nouts = ["x"]\ncmd = "echo {word} > x"\n'


def _backdate(path, seconds=3600):
    past = time.time() - seconds
    os.utime(path, (past, past))


def _cmd(root, cache_path):
    cache = ParseCache(cache_path)
    loader = Loader(root, Registry.default(), parse_cache=cache)
    cmd = loader.target(Label("p", "a")).spec.cmd
    cache.save()
    return cmd


def test_unchanged_file_comes_from_the_cache_and_edits_are_seen(tmp_path):
    root = tmp_path / "ws"
    (root / "p").mkdir(parents=True)
    (root / "BUILD.toml").write_text("[workspace]\n")
    build = root / "p" / "BUILD.toml"
    build.write_text(BUILD.format(word="one"))
    _backdate(build)
    cache_file = tmp_path / "parse.cache"
    assert _cmd(root, cache_file) == "echo one > x"
    assert cache_file.exists()
    # Same size, new bytes: the stat signature (mtime/ctime) differs, so it is re-parsed.
    build.write_text(BUILD.format(word="two"))
    _backdate(build, 1800)
    assert _cmd(root, cache_file) == "echo two > x"


def test_a_file_modified_just_now_is_not_recorded(tmp_path):
    root = tmp_path / "ws"
    (root / "p").mkdir(parents=True)
    (root / "BUILD.toml").write_text("[workspace]\n")
    (root / "p" / "BUILD.toml").write_text(BUILD.format(word="one"))
    cache_file = tmp_path / "parse.cache"
    _cmd(root, cache_file)
    assert not cache_file.exists()


def test_corrupt_cache_file_is_ignored(tmp_path):
    cache_file = tmp_path / "parse.cache"
    cache_file.write_bytes(b"not a pickle")
    st = os.stat(cache_file)
    assert ParseCache(cache_file).get("x", st) is None
