"""Helpers for the remote-cache acceptance tests: small workspaces, buckets, CLI runs.

- ``copy_workspace(dest)``: the repo's workspace pieces (BUILD.toml, tasks/, configs/,
  images/, experiments/; never cache/ or out/) with a small experiment ``//experiments:small``
  (agents careful + sloppy, 3 tasks, 1 repeat). ``leak=True`` adds an agent ``leaky`` that
  prints the secret named ``SECRET_ENV`` and an experiment ``//experiments:leak`` using it.
- ``make_bucket(kind, endpoint)``: a fresh bucket on an emulator with raw SDK access (list,
  read, overwrite) and the environment a subprocess needs to reach it.
- ``alebuild(...)``: run the CLI in a subprocess and return the completed process.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alebuild.cache.digest import digest_bytes
from alebuild.cache.tree import hash_tree

__all__ = [
    "LEAK",
    "REPO",
    "SECRET_ENV",
    "SMALL",
    "SMALL_TASKS",
    "Bucket",
    "alebuild",
    "build",
    "copy_workspace",
    "make_bucket",
    "reference_digests",
]

REPO = Path(__file__).resolve().parents[2]
SMALL = "//experiments:small"
LEAK = "//experiments:leak"
SMALL_TASKS = ("demo/csv_cleanup", "demo/log_triage", "demo/secret_handoff")
SECRET_ENV = "ALEBUILD_TEST_SECRET"
WORKSPACE_PIECES = ("BUILD.toml", "tasks", "configs", "images", "experiments")
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_SMALL_EXPERIMENT = """
[[experiment]]
name = "small"
agents = ["//configs/agents:careful", "//configs/agents:sloppy"]
tasks = "//tasks/selected:small"
environment = "//configs/environments:local"
repeats = 1
wall_time_s = 120
"""
_LEAK_EXPERIMENT = """
[[experiment]]
name = "leak"
agents = ["//configs/agents:leaky"]
tasks = "//tasks/selected:small"
environment = "//configs/environments:local"
repeats = 1
wall_time_s = 120
"""
_LEAKY_AGENT = f"""
[[agent]]
name = "leaky"
harness = "script"
script = "scripts/leaky.py"
model = "script/leaky"
version = "1.0.0"
env = ["{SECRET_ENV}"]
"""
# Says the secret everywhere it may legitimately go (stdout, stderr, its own environment),
# and nowhere an artifact would carry it (the task folder).
_LEAKY_SCRIPT = f"""#!/usr/bin/env python3
import os, sys
secret = os.environ["{SECRET_ENV}"]
print("the secret is " + secret)
print("stderr secret " + secret, file=sys.stderr)
os.environ["LEAKED_COPY"] = secret
"""


def copy_workspace(dest: Path, *, leak: bool = False) -> Path:
    """A small workspace at ``dest`` (created); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for piece in WORKSPACE_PIECES:
        src = REPO / piece
        if src.is_dir():
            shutil.copytree(src, dest / piece, ignore=ignore)
        else:
            shutil.copy2(src, dest / piece)
    selected = dest / "tasks" / "selected"
    (selected / "small.txt").write_text("# three demo tasks\n" + "\n".join(SMALL_TASKS) + "\n")
    with open(selected / "BUILD.toml", "a") as f:
        f.write('\n[[task_suite]]\nname = "small"\nfile = "small.txt"\n')
    experiments = _SMALL_EXPERIMENT
    if leak:
        agents = dest / "configs" / "agents"
        with open(agents / "BUILD.toml", "a") as f:
            f.write(_LEAKY_AGENT)
        script = agents / "scripts" / "leaky.py"
        script.write_text(_LEAKY_SCRIPT)
        script.chmod(0o755)
        experiments += _LEAK_EXPERIMENT
    (dest / "experiments" / "BUILD.toml").write_text(experiments)
    return dest


def reference_digests(tasks_root: Path) -> dict[str, str]:
    """digest -> what it is, for every reference file and (sub)tree under tasks/*/*/reference."""
    found: dict[str, str] = {}
    for ref in sorted(tasks_root.glob("*/*/reference")):
        for path in sorted(ref.rglob("*")):
            if path.is_file():
                found[digest_bytes(path.read_bytes())] = str(path.relative_to(tasks_root))
        for folder in [ref, *sorted(p for p in ref.rglob("*") if p.is_dir())]:
            found[hash_tree(folder, "xxh128", None, modes="exec").digest] = (
                str(folder.relative_to(tasks_root)) + "/"
            )
    return found


_bucket_ids = itertools.count()


@dataclass
class Bucket:
    """A bucket on an emulator, a store URL on it, and raw SDK access for checks and tampering."""

    kind: str
    endpoint: str
    name: str
    prefix: str
    list_names: Callable[[], list[str]]
    read: Callable[[str], bytes]
    write: Callable[[str, bytes], None]
    create: Callable[[], None]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'s3' if self.kind == 's3' else 'gs'}://{self.name}/{self.prefix}"

    def cas_name(self, digest: str) -> str:
        return f"{self.prefix}/cas/{digest.replace(':', '/')}"

    def cas_digests(self) -> set[str]:
        head = f"{self.prefix}/cas/"
        return {
            n[len(head) :].replace("/", ":", 1) for n in self.list_names() if n.startswith(head)
        }


def make_bucket(kind: str, endpoint: str, *, create: bool = True) -> Bucket:
    name = f"ale-remote-{os.getpid()}-{next(_bucket_ids)}"
    if kind == "s3":
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
        )

        def list_names() -> list[str]:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
            return [o["Key"] for page in pages for o in page.get("Contents", [])]

        bucket = Bucket(
            kind,
            endpoint,
            name,
            "team",
            list_names=list_names,
            read=lambda key: client.get_object(Bucket=name, Key=key)["Body"].read(),
            write=lambda key, data: client.put_object(Bucket=name, Key=key, Body=data),
            create=lambda: client.create_bucket(Bucket=name),
            env={**AWS_ENV, "ALEBUILD_S3_ENDPOINT": endpoint},
        )
    else:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
        bucket = Bucket(
            kind,
            endpoint,
            name,
            "team",
            list_names=lambda: [b.name for b in client.list_blobs(name)],
            read=lambda key: client.bucket(name).blob(key).download_as_bytes(),
            write=lambda key, data: client.bucket(name).blob(key).upload_from_string(data),
            create=lambda: client.create_bucket(name),
            env={"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "test"},
        )
    if create:
        bucket.create()
    return bucket


def alebuild(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m alebuild.cli ARGS`` with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "alebuild.cli", *map(str, args)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def build(
    ws: Path,
    cache: Path,
    remotes: list[str],
    *,
    env: dict[str, str] | None = None,
    targets: tuple[str, ...] = (SMALL,),
    summary: Path | None = None,
) -> dict:
    """Build ``targets`` in ``ws`` with ``cache`` and ``remotes``; the summary dict.

    A failed build raises AssertionError carrying the CLI's output.
    """
    summary = summary or cache.parent / f"{cache.name}-summary.json"
    remote_args = [a for url in remotes for a in ("--remote-cache", url)]
    proc = alebuild(
        "-C",
        ws,
        "--cache-dir",
        cache,
        *remote_args,
        "build",
        *targets,
        "--summary-json",
        summary,
        "--no-progress",
        env=env,
    )
    assert proc.returncode == 0, f"build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(summary.read_text())
    result["stderr"] = proc.stderr
    return result
