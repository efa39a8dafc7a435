"""Emulator fixtures for system tests: S3 (moto_server) and GCS (gcp-storage-emulator).

``s3_endpoint`` / ``gcs_endpoint`` (session) reuse the emulator CI started (env
``ALEBUILD_TEST_S3_ENDPOINT`` / ``STORAGE_EMULATOR_HOST``) when it answers, else start one
on a free 127.0.0.1 port for the session. ``emulator_factory(kind)`` starts a private
instance a test may stop and restart (same port; the in-memory GCS emulator forgets its
data on restart). A missing emulator executable skips, or fails under
``ALEBUILD_REQUIRE_SYSTEM=1`` (see tests/conftest.py).

Emulator credentials: AWS key/secret ``testing`` in us-east-1; GCS anonymous, project
``test``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ENV_ENDPOINT = {"s3": "ALEBUILD_TEST_S3_ENDPOINT", "gcs": "STORAGE_EMULATOR_HOST"}
EXECUTABLE = {"s3": "moto_server", "gcs": "gcp-storage-emulator"}
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START_TIMEOUT_S = 30.0


def _find_executable(kind: str) -> str | None:
    # Prefer the one installed beside the running interpreter (the venv), then PATH.
    name = EXECUTABLE[kind]
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when an HTTP server answers at ``url`` (any status code counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


class Emulator:
    """One emulator process on a fixed port; ``stop()`` and ``start()`` may alternate."""

    def __init__(self, kind: str, executable: str, port: int | None = None) -> None:
        self.kind = kind
        self.executable = executable
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def _argv(self) -> list[str]:
        if self.kind == "s3":
            return [self.executable, "-H", "127.0.0.1", "-p", str(self.port)]
        return [
            self.executable,
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--in-memory",
            "-q",
        ]

    def start(self) -> None:
        if self._proc is not None:
            return
        self._proc = subprocess.Popen(
            self._argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(self.url, timeout=0.5):
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise RuntimeError(f"{self.kind} emulator exited with {code} on {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} emulator did not answer on {self.url}")
            time.sleep(0.1)  # readiness poll, bounded by the deadline above

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_or_require(kind: str, require: Callable[[str, bool, str], None]) -> Emulator:
    executable = _find_executable(kind)
    require(
        EXECUTABLE[kind], executable is not None, "executable not found; pip install -e '.[test]'"
    )
    emulator = Emulator(kind, str(executable))
    try:
        emulator.start()
    except RuntimeError as exc:
        require(EXECUTABLE[kind], False, str(exc))
    return emulator


def _endpoint(kind: str, require: Callable[[str, bool, str], None]) -> Iterator[str]:
    given = os.environ.get(ENV_ENDPOINT[kind], "")
    if given and not given.startswith("http"):
        given = "http://" + given
    if given and answers(given):
        yield given.rstrip("/")
        return
    emulator = _start_or_require(kind, require)
    try:
        yield emulator.url
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def aws_test_env() -> Iterator[None]:
    """Emulator credentials for boto3, restored at the end of the session."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in AWS_TEST_ENV.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def s3_endpoint(system_required, aws_test_env) -> Iterator[str]:
    """URL of a running S3 emulator (moto) for the whole session."""
    yield from _endpoint("s3", system_required)


@pytest.fixture(scope="session")
def gcs_endpoint(system_required) -> Iterator[str]:
    """URL of a running GCS emulator for the whole session."""
    yield from _endpoint("gcs", system_required)


@pytest.fixture
def emulator_factory(system_required, aws_test_env) -> Iterator[Callable[[str], Emulator]]:
    """``emulator_factory("s3" | "gcs")`` starts a private emulator; stopped at teardown."""
    started: list[Emulator] = []

    def make(kind: str) -> Emulator:
        emulator = _start_or_require(kind, system_required)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
