"""Sandboxes: the Provider/Sandbox protocol, providers found by name, the ALE session.

Providers are imported lazily (``get_provider_class``), so importing this package never
pulls in a provider's SDK.
"""

from __future__ import annotations

from alebuild.sandbox.base import (
    DEFAULT_TASK_ROOT,
    IMAGE_MOUNT,
    ExecResult,
    Provider,
    Sandbox,
    SandboxSpec,
    TreeTooLarge,
)
from alebuild.sandbox.registry import get_provider_class, known_providers
from alebuild.sandbox.session import CommandResult, Session

__all__ = [
    "DEFAULT_TASK_ROOT",
    "IMAGE_MOUNT",
    "CommandResult",
    "ExecResult",
    "Provider",
    "Sandbox",
    "SandboxSpec",
    "Session",
    "TreeTooLarge",
    "get_provider_class",
    "known_providers",
]
