"""What only bubblewrap isolation guarantees: no network, read-only host, hidden sandboxes."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from alebuild.sandbox.base import SandboxSpec
from alebuild.sandbox.local import LocalProvider, bwrap_available

pytestmark = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap unavailable")
ROOT = "/media/user/data/agenthle"


@pytest.fixture
def provider(tmp_path: Path) -> LocalProvider:
    return LocalProvider(tmp_path / "sandboxes", use_bwrap=True, hide=[tmp_path / "cache"])


async def test_network_is_unshared(provider):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        async with provider.sandbox(SandboxSpec()) as sbx:
            assert sbx.isolation == "bwrap"
            res = await sbx.exec(["/usr/bin/python3", "-c", probe])
            assert res.returncode != 0 and b"refused" in res.stderr.lower()
            dev = (await sbx.exec(["cat", "/proc/net/dev"])).stdout.decode()
            assert [ln.split(":")[0].strip() for ln in dev.splitlines() if ":" in ln] == ["lo"]
        async with provider.sandbox(SandboxSpec(network=True)) as sbx:
            res = await sbx.exec(["/usr/bin/python3", "-c", probe])
            assert res.returncode == 0, res.stderr


async def test_host_filesystem_is_read_only(provider):
    async with provider.sandbox(SandboxSpec()) as sbx:
        res = await sbx.exec(["sh", "-c", "echo x > /usr/alebuild-x"])
        assert res.returncode != 0 and b"Read-only" in res.stderr
        assert not Path("/usr/alebuild-x").exists()
        res = await sbx.exec(["sh", "-c", "echo x > /tmp/scratch && cat /tmp/scratch"])
        assert res.stdout == b"x\n"
        assert (sbx.host_dir / "tmp" / "scratch").exists()


@pytest.fixture
def outside_tmp():
    # /tmp is replaced inside the sandbox, so hiding must be shown on a path outside it
    d = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="alebuild-test-"))
    yield d
    shutil.rmtree(d)


async def test_other_sandboxes_and_hidden_dirs_are_invisible(outside_tmp):
    cache = outside_tmp / "cache"
    cache.mkdir()
    (cache / "reference.txt").write_text("secret answer")
    provider = LocalProvider(outside_tmp / "sandboxes", use_bwrap=True, hide=[cache])
    async with provider.sandbox(SandboxSpec()) as a, provider.sandbox(SandboxSpec()) as b:
        await a.write_bytes(f"{ROOT}/ref.txt", b"a's reference")
        listing = await b.exec(["ls", "-A", str(outside_tmp), str(provider.base_dir), str(cache)])
        assert listing.returncode == 0, listing.stderr
        assert b"cache" in listing.stdout and b"sandboxes" in listing.stdout  # dirs seen...
        assert a.name.encode() not in listing.stdout and b"reference" not in listing.stdout
        res = await b.exec(["cat", str(a.host_dir / "root" / "ref.txt")])  # ...contents not
        assert res.returncode != 0 and not res.stdout


async def test_image_is_read_only_and_task_root_parents_are_traversable(provider, tmp_path):
    image = tmp_path / "image"
    (image / "bin").mkdir(parents=True)
    async with provider.sandbox(SandboxSpec(image_dir=image)) as sbx:
        res = await sbx.exec(["sh", "-c", "touch /opt/alebuild/image/x"])
        assert res.returncode != 0
        res = await sbx.exec(["stat", "-c", "%a", "/media/user", "/media/user/data"])
        assert res.stdout == b"755\n755\n"
        assert b"pypi" in (await sbx.exec(["ls", "/opt"])).stdout  # host /opt still visible
