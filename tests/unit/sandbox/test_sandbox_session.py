"""The ALE DesktopSession surface over a local sandbox (both isolation modes)."""

from __future__ import annotations

import pytest

from alebuild.sandbox.session import CommandResult, Session

ROOT = "/media/user/data/agenthle"


@pytest.fixture
def session(sandbox) -> Session:
    return Session(sandbox, default_timeout=30)


async def test_run_command_string_and_list(session):
    r = await session.run_command(f"echo hi && ls {ROOT}")
    assert r.stdout == "hi\n" and r.returncode == 0 and r.success
    r = await session.run_command(["sh", "-c", "echo 'a b' >&2; exit 4"])
    assert (r.stderr, r.returncode, r.return_code, r.exit_code, r.success) == (
        "a b\n",
        4,
        4,
        4,
        False,
    )


async def test_run_command_dict_access(session):
    r = await session.run_command("printf '\\377ok'")
    assert r["stdout"] == "\ufffdok"  # undecodable bytes replaced, never an exception
    assert r.get("returncode") == 0 and r["return_code"] == 0 and "stderr" in r
    assert r.get("nope", "dflt") == "dflt"
    with pytest.raises(KeyError):
        r["nope"]
    assert dict(r)["exit_code"] == 0


async def test_run_command_check_raises_with_stderr(session):
    with pytest.raises(RuntimeError, match="went wrong"):
        await session.run_command("echo went wrong >&2; exit 1", check=True)
    assert (await session.run_command("true", check=True)).success


async def test_run_command_timeout(session):
    r = await session.run_command(["sleep", "30"], timeout=0.2)
    assert r.timed_out and r.returncode == -9 and not r.success
    with pytest.raises(RuntimeError, match="timed out"):
        await session.run_command(["sleep", "30"], timeout=0.2, check=True)


async def test_run_command_env_and_cwd(session):
    await session.create_dir(f"{ROOT}/w")
    await session.write_file(f"{ROOT}/w/f.txt", "content")
    r = await session.run_command(
        'cat f.txt; echo " $GREETING"', cwd=f"{ROOT}/w", env={"GREETING": "hey"}
    )
    assert r.stdout == "content hey\n"


async def test_file_surface(session):
    d = f"{ROOT}/dom/task/base"
    await session.interface.create_dir(f"{d}/output")
    await session.write_file(f"{d}/input/a.txt", "héllo")
    await session.write_bytes(f"{d}/input/b.bin", b"\x00\x01")
    assert await session.read_file(f"{d}/input/a.txt") == "héllo"
    assert await session.read_bytes(f"{d}/input/b.bin") == b"\x00\x01"
    assert await session.file_exists(f"{d}/input/a.txt")
    assert not await session.file_exists(f"{d}/input")  # a directory is not a file
    assert not await session.file_exists(f"{d}/input/missing")
    assert await session.directory_exists(f"{d}/output")
    assert not await session.directory_exists(f"{d}/input/a.txt")
    assert await session.list_dir(d) == ["input", "output"]
    assert await session.list_dir(f"{d}/input") == ["a.txt", "b.bin"]
    await session.interface.delete_dir(f"{d}/input")
    assert not await session.directory_exists(f"{d}/input")
    await session.delete_dir(f"{d}/output")
    assert await session.list_dir(d) == []


async def test_screenshot_is_not_available_locally(session):
    with pytest.raises(NotImplementedError, match="no screen"):
        await session.screenshot()


def test_command_result_is_a_value():
    assert CommandResult("a", "", 0) == CommandResult("a", "", 0)
    assert list(CommandResult("a", "", 0).keys())[:3] == ["stdout", "stderr", "returncode"]
