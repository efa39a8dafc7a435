"""Conformance checks for the Sandbox protocol, run over LocalProvider with and without bwrap."""

from __future__ import annotations

import asyncio
import os
import random
import stat
import subprocess
from pathlib import Path

import pytest

from alebuild.sandbox.base import Sandbox, SandboxSpec, TreeTooLarge
from alebuild.sandbox.local import LocalProvider

ROOT = "/media/user/data/agenthle"


def _token() -> str:
    # a unique sleep duration marks our processes in /proc
    return f"{random.randint(100000, 999999)}.{random.randint(100, 999)}"


async def test_exec_output_and_returncode(sandbox):
    res = await sandbox.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.returncode, res.stdout, res.stderr, res.timed_out) == (3, b"out\n", b"err\n", False)
    assert sandbox.isolation in ("bwrap", "none")


async def test_exec_stdin_and_cwd(sandbox):
    assert (await sandbox.exec(["cat"], stdin=b"abc\x00")).stdout == b"abc\x00"
    await sandbox.write_bytes(f"{ROOT}/x/y.txt", b"in-x")
    res = await sandbox.exec(["cat", "y.txt"], cwd=f"{ROOT}/x")
    assert res.stdout == b"in-x"


async def test_missing_program_is_a_failed_result(sandbox):
    res = await sandbox.exec(["no-such-program-xyz"])
    assert res.returncode != 0 and not res.timed_out


async def test_env_passed_and_host_env_not_leaked(sandbox, monkeypatch):
    monkeypatch.setenv("ALEBUILD_FAKE_SECRET", "hunter2-secret")
    res = await sandbox.exec(["env"], env={"FOO": "bar baz"})
    out = res.stdout.decode()
    assert "FOO=bar baz" in out.splitlines()
    assert "hunter2-secret" not in out and "ALEBUILD_FAKE_SECRET" not in out
    assert "LANG=C.UTF-8" in out.splitlines()


async def test_files_appear_at_the_canonical_task_root(sandbox):
    await sandbox.write_bytes(f"{ROOT}/x/y.txt", b"hello")
    assert (await sandbox.exec(["cat", f"{ROOT}/x/y.txt"])).stdout == b"hello"
    assert (sandbox.host_dir / "root" / "x" / "y.txt").read_bytes() == b"hello"
    res = await sandbox.exec(["sh", "-c", f"echo made > {ROOT}/x/made.txt"])
    assert res.returncode == 0
    assert await sandbox.read_bytes(f"{ROOT}/x/made.txt") == b"made\n"


async def test_file_operations(sandbox):
    await sandbox.mkdir(f"{ROOT}/a/b")
    await sandbox.write_bytes(f"{ROOT}/a/f.sh", b"#!/bin/sh\n", mode=0o755)
    assert await sandbox.is_dir(f"{ROOT}/a/b") and not await sandbox.is_dir(f"{ROOT}/a/f.sh")
    assert await sandbox.exists(f"{ROOT}/a/f.sh") and not await sandbox.exists(f"{ROOT}/nope")
    assert await sandbox.list_dir(f"{ROOT}/a") == ["b", "f.sh"]
    assert stat.S_IMODE((sandbox.host_dir / "root/a/f.sh").stat().st_mode) == 0o755
    await sandbox.remove(f"{ROOT}/a")
    await sandbox.remove(f"{ROOT}/a")  # missing: no error
    assert not await sandbox.exists(f"{ROOT}/a")
    with pytest.raises(FileNotFoundError):
        await sandbox.read_bytes(f"{ROOT}/a/f.sh")


async def test_timeout_kills_the_tree(sandbox, pids_with, wait_until):
    tok = _token()
    res = await sandbox.exec(["sh", "-c", f"sleep {tok} & sleep {tok}"], timeout=0.2)
    assert res.timed_out and res.returncode == -9
    await wait_until(lambda: not pids_with(tok), "timed-out processes gone")


async def test_background_processes_do_not_survive_kill_all(sandbox, pids_with, wait_until):
    t1, t2 = _token(), _token()
    res = await sandbox.exec(["sh", "-c", f"sleep {t1} & setsid sleep {t2} & echo started"])
    assert res.stdout == b"started\n"
    await sandbox.kill_all()
    assert not pids_with(t1) and not pids_with(t2)


async def test_kill_all_sees_the_processes_it_must_kill(pids_with, wait_until, tmp_path):
    # none mode lets background processes outlive exec: the kill above is not vacuous there
    provider = LocalProvider(tmp_path / "s", use_bwrap=False)
    async with provider.sandbox(SandboxSpec()) as sbx:
        tok = _token()
        await sbx.exec(["sh", "-c", f"setsid sleep {tok} & echo started"])
        await wait_until(lambda: pids_with(tok), "background process running")
        await sbx.kill_all()
        assert not pids_with(tok)


def _make_tree(root: Path) -> None:
    (root / "sub" / "empty").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    os.chmod(root / "a.txt", 0o640)
    (root / "sub" / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "sub" / "run.sh", 0o755)
    (root / "sub" / "blob.bin").write_bytes(bytes(range(256)) * 40)
    os.symlink("../a.txt", root / "sub" / "rel-link")
    os.symlink("/etc/passwd", root / "pw")


def _snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(root))] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[str(p.relative_to(root))] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[str(p.relative_to(root))] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return out


@pytest.mark.parametrize("impl", ["provider", "portable"])
async def test_put_and_get_tree_roundtrip(sandbox, tmp_path, impl):
    # "portable" runs the tar-over-exec defaults of the base class on the same sandbox
    put = sandbox.put_tree if impl == "provider" else lambda *a: Sandbox.put_tree(sandbox, *a)
    get = (
        sandbox.get_tree
        if impl == "provider"
        else lambda *a, **k: Sandbox.get_tree(sandbox, *a, **k)
    )
    src, back = tmp_path / "src", tmp_path / "back"
    src.mkdir()
    _make_tree(src)
    await put(src, f"{ROOT}/task/input")
    assert (await sandbox.exec(["cat", f"{ROOT}/task/input/sub/rel-link"])).stdout == b"alpha\n"
    res = await sandbox.exec(["stat", "-c", "%a", f"{ROOT}/task/input/a.txt"])
    assert res.stdout == b"640\n"
    await get(f"{ROOT}/task/input", back)
    assert _snapshot(back) == _snapshot(src)
    assert os.path.islink(back / "pw") and os.readlink(back / "pw") == "/etc/passwd"


async def test_get_tree_keeps_planted_links_as_links(sandbox, tmp_path):
    res = await sandbox.exec(
        [
            "sh",
            "-c",
            f"mkdir -p {ROOT}/out && ln -s /etc/passwd {ROOT}/out/pw && ln -s / {ROOT}/out/root",
        ]
    )
    assert res.returncode == 0
    await sandbox.get_tree(f"{ROOT}/out", tmp_path / "o")
    assert (
        os.path.islink(tmp_path / "o" / "pw")
        and os.readlink(tmp_path / "o" / "pw") == "/etc/passwd"
    )
    assert os.readlink(tmp_path / "o" / "root") == "/"


async def test_get_tree_caps_and_exclude(sandbox, tmp_path):
    await sandbox.write_bytes(f"{ROOT}/t/one", b"0123456789")
    await sandbox.write_bytes(f"{ROOT}/t/two", b"x")
    await sandbox.write_bytes(f"{ROOT}/t/skip/big", b"y" * 100)
    with pytest.raises(TreeTooLarge):
        await sandbox.get_tree(f"{ROOT}/t", tmp_path / "a", max_files=3)
    with pytest.raises(TreeTooLarge):
        await sandbox.get_tree(f"{ROOT}/t", tmp_path / "b", max_bytes=50)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing partial
    await sandbox.get_tree(f"{ROOT}/t", tmp_path / "c", max_bytes=50, exclude=lambda r: r == "skip")
    assert sorted(os.listdir(tmp_path / "c")) == ["one", "two"]


async def test_paths_escaping_the_sandbox_are_rejected(sandbox, tmp_path):
    with pytest.raises(PermissionError):
        await sandbox.read_bytes(f"{ROOT}/../../../../etc/passwd")
    with pytest.raises(PermissionError):
        await sandbox.read_bytes("/etc/passwd")
    await sandbox.exec(
        [
            "sh",
            "-c",
            f"mkdir -p {ROOT}/o && ln -s /etc {ROOT}/o/etc && ln -s /etc/passwd {ROOT}/o/pw",
        ]
    )
    with pytest.raises(PermissionError):
        await sandbox.read_bytes(f"{ROOT}/o/pw")
    with pytest.raises(PermissionError):
        await sandbox.write_bytes(f"{ROOT}/o/etc/alebuild-pwned", b"x")
    with pytest.raises(PermissionError):
        await sandbox.get_tree(f"{ROOT}/o/etc", tmp_path / "x")
    assert not os.path.exists("/etc/alebuild-pwned")
    # putting a tree over a planted link replaces the link, never writes through it
    src = tmp_path / "ref"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "alebuild-pwned").write_bytes(b"x")
    await sandbox.put_tree(src, f"{ROOT}/o")
    assert not os.path.exists("/etc/alebuild-pwned")
    assert await sandbox.read_bytes(f"{ROOT}/o/etc/alebuild-pwned") == b"x"
    # links that stay inside the sandbox resolve as the sandbox sees them
    await sandbox.exec(["ln", "-s", f"{ROOT}/o/etc", f"{ROOT}/inside"])
    assert await sandbox.read_bytes(f"{ROOT}/inside/alebuild-pwned") == b"x"


async def test_release_deletes_the_dir_even_if_the_body_raises(provider):
    with pytest.raises(RuntimeError):
        async with provider.sandbox(SandboxSpec(build_id="b")) as sbx:
            host_dir = sbx.host_dir
            await sbx.exec(
                ["sh", "-c", f"mkdir {ROOT}/ro && touch {ROOT}/ro/f && chmod 500 {ROOT}/ro"]
            )
            raise RuntimeError("body failed")
    assert not host_dir.exists()


async def test_release_on_cancellation_kills_and_deletes(provider, pids_with, wait_until):
    tok = _token()
    entered = asyncio.Event()
    dirs = []

    async def body():
        async with provider.sandbox(SandboxSpec(build_id="c")) as sbx:
            dirs.append(sbx.host_dir)
            entered.set()
            await sbx.exec(["sleep", tok])

    task = asyncio.create_task(body())
    await entered.wait()
    await wait_until(lambda: pids_with(tok), "command running")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not dirs[0].exists()
    await wait_until(lambda: not pids_with(tok), "command killed")


async def test_image_dir_is_mounted_with_bin_on_path(provider, tmp_path):
    image = tmp_path / "image"
    (image / "bin").mkdir(parents=True)
    (image / "bin" / "hello-image").write_text("#!/bin/sh\necho from-image\n")
    os.chmod(image / "bin" / "hello-image", 0o755)
    (image / "data.txt").write_text("img")
    async with provider.sandbox(SandboxSpec(image_dir=image)) as sbx:
        assert (await sbx.exec(["hello-image"])).stdout == b"from-image\n"
        assert (await sbx.exec(["cat", "/opt/alebuild/image/data.txt"])).stdout == b"img"
        assert await sbx.read_bytes("/opt/alebuild/image/data.txt") == b"img"
        with pytest.raises(PermissionError):
            await sbx.write_bytes("/opt/alebuild/image/data.txt", b"changed")


async def test_gc_removes_only_dead_leftovers(provider, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    base = provider.base_dir
    for name, build in [("old-aaaa", "old"), ("other-bbbb", "other")]:
        (base / name / "root").mkdir(parents=True)
        (base / name / ".alebuild-sandbox.json").write_text(
            f'{{"build_id": "{build}", "pid": {dead.pid}}}'
        )
    (base / "not-ours").mkdir()
    async with provider.sandbox(SandboxSpec(build_id="old-live")) as live:
        assert await provider.gc("old") == ["old-aaaa"]
        assert live.host_dir.exists()
        assert await provider.gc(None) == ["other-bbbb"]
    assert sorted(p.name for p in base.iterdir()) == ["not-ours"]
