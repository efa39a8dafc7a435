"""The system-test gate from tests/conftest.py: skip on a laptop, fail in CI."""

from __future__ import annotations

import pytest


def test_available_service_passes(system_required, monkeypatch) -> None:
    monkeypatch.setenv("ALEBUILD_REQUIRE_SYSTEM", "1")
    assert system_required("moto_server", True, "") is None


def test_missing_service_skips_without_ci(system_required, monkeypatch) -> None:
    monkeypatch.delenv("ALEBUILD_REQUIRE_SYSTEM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="moto_server unavailable: not installed"):
        system_required("moto_server", False, "not installed")


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_missing_service_fails_in_ci(system_required, monkeypatch, value: str) -> None:
    monkeypatch.setenv("ALEBUILD_REQUIRE_SYSTEM", value)
    with pytest.raises(pytest.fail.Exception, match="moto_server unavailable"):
        system_required("moto_server", False, "not installed")


def test_zero_means_not_required(system_required, monkeypatch) -> None:
    monkeypatch.setenv("ALEBUILD_REQUIRE_SYSTEM", "0")
    with pytest.raises(pytest.skip.Exception):
        system_required("dockerd", False, "")
