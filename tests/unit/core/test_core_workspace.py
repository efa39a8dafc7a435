"""Workspace root discovery and [workspace] settings."""

from __future__ import annotations

import pytest

from alebuild.core import UserError, WorkspaceConfig, find_root, load_workspace_config


def test_find_root_walks_up_past_plain_packages(tmp_path):
    (tmp_path / "BUILD.toml").write_text('[workspace]\nout_dir = "o"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (tmp_path / "a" / "BUILD.toml").write_text("[[lib]\nbroken")
    assert find_root(sub) == tmp_path.resolve()


def test_find_root_accepts_only_remote_subtable(tmp_path):
    (tmp_path / "BUILD.toml").write_text('[[workspace.remote]]\nurl = "gs://b/p"\n')
    assert find_root(tmp_path) == tmp_path.resolve()


def test_find_root_without_workspace(tmp_path):
    (tmp_path / "BUILD.toml").write_text('[[lib]]\nname = "x"\n')
    with pytest.raises(UserError, match=r"^no workspace: no BUILD.toml with a \[workspace\]"):
        find_root(tmp_path)


def test_config_defaults_and_values(tmp_path):
    (tmp_path / "BUILD.toml").write_text(
        '[workspace]\ndigest_function = "sha256"\nignore = ["x"]\n'
        '[[workspace.remote]]\nurl = "s3://b/p"\nvisibility = "private"\nwrite = false\n'
    )
    cfg = load_workspace_config(tmp_path)
    assert cfg.digest_function == "sha256" and cfg.cache_dir == "cache" and cfg.ignore == ["x"]
    assert cfg.remote[0].url == "s3://b/p" and cfg.remote[0].visibility == "private"
    assert cfg.remote[0].write is False and cfg.remote[0].read is True
    assert WorkspaceConfig().out_dir == "out"


def test_config_error_names_line_and_field(tmp_path):
    (tmp_path / "BUILD.toml").write_text(
        '[workspace]\ncache_dir = "c"\n\n[[workspace.remote]]\nurl = "gs://a"\n'
        '[[workspace.remote]]\nurl = "gs://b"\nvisibilty = "private"\n'
    )
    with pytest.raises(UserError) as exc:
        load_workspace_config(tmp_path)
    assert str(exc.value) == (
        "BUILD.toml:8: workspace.remote[1].visibilty: Extra inputs are not permitted"
    )


def test_config_type_error(tmp_path):
    (tmp_path / "BUILD.toml").write_text('[workspace]\n\ndigest_function = "md5"\n')
    with pytest.raises(
        UserError, match=r"^BUILD.toml:3: workspace.digest_function: Input should be"
    ):
        load_workspace_config(tmp_path)
