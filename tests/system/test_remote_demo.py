"""Acceptance tests of shared remote caches and ``reproduce``, on S3 and GCS emulators.

A small experiment (careful + sloppy on three demo tasks, one replica) is built once per
store kind into a fresh bucket (``shared``, module scope); tests that only read it share
it, tests that tamper with a bucket or stop an emulator make their own.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path

import pytest
from remote_helpers import (
    LEAK,
    SECRET_ENV,
    SMALL,
    SMALL_TASKS,
    Bucket,
    alebuild,
    build,
    copy_workspace,
    make_bucket,
    reference_digests,
)

from alebuild.exec.events import read_events

pytestmark = pytest.mark.system

KINDS = ["s3", "gcs"]
UNITS = 2 * len(SMALL_TASKS)  # agents x tasks x 1 replica


class Shared:
    """One workspace built once against a fresh bucket; read-only for the tests using it."""

    def __init__(self, kind: str, bucket: Bucket, ws: Path, summary: dict, secret: str) -> None:
        self.kind = kind
        self.bucket = bucket
        self.ws = ws
        self.summary = summary
        self.secret = secret
        self.result_hash = summary["results"][SMALL]


@pytest.fixture(scope="module", params=KINDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    kind = request.param
    endpoint = request.getfixturevalue(f"{kind}_endpoint")
    bucket = make_bucket(kind, endpoint)
    base = tmp_path_factory.mktemp(f"shared-{kind}")
    ws = copy_workspace(base / "ws", leak=True)
    secret = "s3cr3t-" + secrets.token_hex(16)
    summary = build(
        ws,
        base / "cache",
        [bucket.url],
        env={**bucket.env, SECRET_ENV: secret},
        targets=(SMALL, LEAK),
    )
    assert summary["failed"] == []
    return Shared(kind, bucket, ws, summary, secret)


def _unit_lines(stdout: str, status: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(status)]


def _events(cache: Path, event: str) -> list[dict]:
    logs = sorted((cache / "builds").glob("*.jsonl"))
    assert len(logs) == 1, logs
    return [e for e in read_events(logs[0]) if e["event"] == event]


def test_reproduce_from_remote_only(shared: Shared, tmp_path: Path) -> None:
    """A fresh machine holding only the hash re-grades every unit from the remote."""
    proc = alebuild(
        "-C",
        shared.ws,
        "--cache-dir",
        tmp_path / "empty",
        "--remote-cache",
        shared.bucket.url,
        "reproduce",
        shared.result_hash,
        env=shared.bucket.env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(_unit_lines(proc.stdout, "match ")) == UNITS, proc.stdout
    assert _unit_lines(proc.stdout, "MISMATCH") == []
    assert _unit_lines(proc.stdout, "error") == []
    assert f"REPRODUCED: {shared.result_hash}" in proc.stdout


def test_second_machine_executes_nothing(shared: Shared, tmp_path: Path) -> None:
    """Same workspace at another path, empty cache: every action is a remote hit."""
    ws2 = copy_workspace(tmp_path / "elsewhere" / "checkout", leak=True)
    summary = build(ws2, tmp_path / "cache2", [shared.bucket.url], env=shared.bucket.env)
    assert summary["executed"] == []
    assert summary["failed"] == []
    assert summary["sandboxes_provisioned"] == 0
    assert summary["results"][SMALL] == shared.result_hash


def test_public_bucket_holds_no_reference_and_no_secret(shared: Shared) -> None:
    bucket = shared.bucket
    names = bucket.list_names()
    assert names, "the build uploaded nothing"
    assert all(
        n.startswith(f"{bucket.prefix}/cas/") or n.startswith(f"{bucket.prefix}/ac/") for n in names
    ), names
    refs = reference_digests(shared.ws / "tasks")
    leaked = {refs[d]: d for d in bucket.cas_digests() if d in refs}
    assert leaked == {}, f"reference blobs in a public bucket: {leaked}"

    # The leaky agent really ran with the secret: its redacted transcript was uploaded.
    assert any(label.startswith(LEAK) for label in shared.summary["executed"])
    needle = shared.secret.encode()
    redacted_seen = False
    for name in names:
        data = bucket.read(name)
        assert needle not in data, f"secret value in {name}"
        redacted_seen |= b"the secret is ***" in data
    assert redacted_seen, "no redacted transcript of the leaky agent in the bucket"


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_remote_blob_is_not_used(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket = make_bucket(kind, request.getfixturevalue(f"{kind}_endpoint"))
    healthy = tmp_path / "healthy-remote"
    healthy.mkdir()
    ws = copy_workspace(tmp_path / "ws")
    first = build(ws, tmp_path / "c0", [bucket.url, healthy.as_uri()], env=bucket.env)
    manifest = json.loads((ws / "out" / "small" / "manifest.json").read_text())
    unit = next(u for u in manifest["units"] if u["agent"] == "careful")
    victim = unit["artifacts"]  # the run's artifact tree object
    assert victim in bucket.cas_digests()
    bucket.write(bucket.cas_name(victim), b"these are not the bytes you stored")

    # Only the tampered bucket: the run re-executes, nothing else does, same result.
    again = build(ws, tmp_path / "c1", [bucket.url], env=bucket.env)
    run_label = unit["run"]
    assert again["executed"] == [run_label]
    assert again["failed"] == []
    assert again["results"][SMALL] == first["results"][SMALL]
    warnings = [e["message"] for e in _events(tmp_path / "c1", "warning")]
    assert any(victim in m for m in warnings), warnings

    # With a second, healthy store the blob is refetched there: nothing runs. (Corrupted
    # again: the re-run above may have repaired the bucket.)
    bucket.write(bucket.cas_name(victim), b"these are not the bytes you stored either")
    both = build(ws, tmp_path / "c2", [bucket.url, healthy.as_uri()], env=bucket.env)
    assert both["executed"] == []
    assert both["results"][SMALL] == first["results"][SMALL]
    warnings = [e["message"] for e in _events(tmp_path / "c2", "warning")]
    assert any(victim in m for m in warnings), warnings


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_remote_blob_is_repaired(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """After one machine re-ran the action, the next fresh machine finds good bytes."""
    bucket = make_bucket(kind, request.getfixturevalue(f"{kind}_endpoint"))
    ws = copy_workspace(tmp_path / "ws")
    build(ws, tmp_path / "c0", [bucket.url], env=bucket.env)
    manifest = json.loads((ws / "out" / "small" / "manifest.json").read_text())
    victim = manifest["units"][0]["artifacts"]
    bucket.write(bucket.cas_name(victim), b"rotten")
    assert build(ws, tmp_path / "c1", [bucket.url], env=bucket.env)["executed"] != []
    assert build(ws, tmp_path / "c2", [bucket.url], env=bucket.env)["executed"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_remote_stopped_mid_build(
    kind: str, emulator_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from alebuild.api import Workspace

    emulator = emulator_factory(kind)
    bucket = make_bucket(kind, emulator.url)
    for name, value in bucket.env.items():
        monkeypatch.setenv(name, value)
    ws_root = copy_workspace(tmp_path / "ws")
    cache = tmp_path / "cache"
    stopped: list[str] = []

    def stop_at_first_run(event: dict) -> None:
        if not stopped and event["event"] == "action_finished" and event.get("kind") == "agent_run":
            stopped.append(event["label"])
            emulator.stop()

    ws = Workspace(ws_root, cache_dir=cache, remotes=[bucket.url])
    try:
        result = ws.build([SMALL], progress=False, listeners=[stop_at_first_run])
    finally:
        ws.close()
    assert stopped, "no agent run finished"
    assert result.ok and result.exit_code == 0
    warnings = [e for e in read_events(result.log_path) if e["event"] == "warning"]
    assert len(warnings) == 1, warnings
    assert bucket.name in warnings[0]["message"]
    result_hash = result.summary()["results"][SMALL]

    # Back up (empty: the emulators keep objects in memory): the next build runs nothing
    # and uploads what the remote lacks.
    emulator.start()
    bucket.create()
    ws = Workspace(ws_root, cache_dir=cache, remotes=[bucket.url])
    try:
        again = ws.build([SMALL], progress=False)
        uploaded = ws.tiers.uploaded
    finally:
        ws.close()
    assert again.summary()["executed"] == []
    assert [e for e in read_events(again.log_path) if e["event"] == "warning"] == []
    assert uploaded > 0

    fresh = build(ws_root, tmp_path / "fresh-cache", [bucket.url], env=bucket.env)
    assert fresh["executed"] == [], f"never re-uploaded after the restart: {fresh['executed']}"
    assert fresh["results"][SMALL] == result_hash


def test_tampered_manifest_is_a_mismatch(shared: Shared, tmp_path: Path) -> None:
    manifest = json.loads((shared.ws / "out" / "small" / "manifest.json").read_text())
    victim = next(u for u in manifest["units"] if u["agent"] == "sloppy")
    victim["score"] = 0.99 if victim["score"] != 0.99 else 0.5
    claim = tmp_path / "claimed-manifest.json"
    claim.write_text(json.dumps(manifest, indent=2))
    proc = alebuild(
        "-C",
        shared.ws,
        "--cache-dir",
        tmp_path / "empty",
        "--remote-cache",
        shared.bucket.url,
        "reproduce",
        claim,
        env=shared.bucket.env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mismatches = _unit_lines(proc.stdout, "MISMATCH")
    assert len(mismatches) == 1, proc.stdout
    assert f"{victim['agent']}/{victim['task']}/r{victim['replica']} " in mismatches[0]
    assert len(_unit_lines(proc.stdout, "match ")) == UNITS - 1, proc.stdout


def _gc_removed(stdout: str) -> int:
    found = re.search(r"removed: (\d+) blobs", stdout)
    assert found, stdout
    return int(found.group(1))


def test_pinned_result_survives_local_gc(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    cache = tmp_path / "cache"
    result_hash = build(ws, cache, [])["results"][SMALL]
    # Control: an unpinned copy of the same cache loses the artifacts to gc.
    unpinned = tmp_path / "unpinned"
    shutil.copytree(cache, unpinned)

    pin = alebuild("-C", ws, "--cache-dir", cache, "pin", result_hash)
    assert pin.returncode == 0, pin.stdout + pin.stderr
    for where in (cache, unpinned):
        gc = alebuild("-C", ws, "--cache-dir", where, "cache", "gc", "--max-size", "0")
        assert gc.returncode == 0, gc.stdout + gc.stderr
        assert _gc_removed(gc.stdout) > 0

    proc = alebuild("-C", ws, "--cache-dir", cache, "--no-remote", "reproduce", result_hash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(_unit_lines(proc.stdout, "match ")) == UNITS, proc.stdout

    control = alebuild("-C", ws, "--cache-dir", unpinned, "--no-remote", "reproduce", result_hash)
    assert control.returncode != 0, control.stdout
