"""Suite-wide fixtures.

System tests need real services (emulators, dockerd, libvirt). On a laptop without them
they skip; in CI (``ALEBUILD_REQUIRE_SYSTEM=1``) a missing service is a failure, so a
broken CI image cannot pass by skipping everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

REQUIRE_ENV = "ALEBUILD_REQUIRE_SYSTEM"


def system_services_required() -> bool:
    """True when a missing service must fail the test instead of skipping it."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def require_service(name: str, available: bool, why: str = "") -> None:
    """Skip (or, under ``ALEBUILD_REQUIRE_SYSTEM=1``, fail) unless ``available``."""
    if available:
        return
    message = f"{name} unavailable" + (f": {why}" if why else "")
    if system_services_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def system_required() -> Callable[[str, bool, str], None]:
    """``system_required(name, available, why)``: skip or fail when a service is missing."""
    return require_service
