"""Shared task configuration for ALE-format task packages (Linux flavour).

A task module subclasses :class:`LinuxTaskConfig`, sets ``DOMAIN_NAME``, ``TASK_NAME``
(and optionally ``VARIANT_NAME``) plus a ``DESCRIPTION_TEMPLATE``, and builds its
``cb.Task`` from ``task_description`` and ``to_metadata()``.

Contract: every path is a canonical *sandbox* path (POSIX), derived only from the class
attributes and three environment variables read once, at import, exactly as ALE does:

- ``REMOTE_ROOT_DIR`` (default ``/media/user/data/agenthle``): root of all task dirs;
- ``REMOTE_OUTPUT_DIR`` (default ``output``): name of the output folder in a task dir;
- ``OS_TYPE`` (default ``linux`` for this base class).

Because they change the rendered instruction, they belong in the run key; nothing here
reads host paths, clocks or randomness.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, ClassVar

__all__ = [
    "DEFAULT_REMOTE_ROOT_DIR",
    "LinuxTaskConfig",
    "OS_TYPE",
    "REMOTE_OUTPUT_DIR",
    "REMOTE_ROOT_DIR",
]

DEFAULT_REMOTE_ROOT_DIR = "/media/user/data/agenthle"

REMOTE_ROOT_DIR: str = os.environ.get("REMOTE_ROOT_DIR") or DEFAULT_REMOTE_ROOT_DIR
REMOTE_OUTPUT_DIR: str = os.environ.get("REMOTE_OUTPUT_DIR") or "output"
OS_TYPE: str = os.environ.get("OS_TYPE") or "linux"


class LinuxTaskConfig:
    """Paths and instruction text of one task variant inside a Linux sandbox.

    Subclasses set the class attributes; instances are cheap and immutable in practice.
    ``DESCRIPTION_TEMPLATE`` is a ``str.format`` template that may use the fields
    ``task_dir``, ``input_dir``, ``software_dir``, ``output_dir``, ``domain``, ``task``
    and ``variant`` (``reference_dir`` is deliberately not offered: agents never see it).
    """

    DOMAIN_NAME: ClassVar[str] = ""
    TASK_NAME: ClassVar[str] = ""
    VARIANT_NAME: ClassVar[str] = "base"
    DESCRIPTION_TEMPLATE: ClassVar[str] = ""

    def __init__(self, root_dir: str | None = None, output_name: str | None = None) -> None:
        if not self.DOMAIN_NAME or not self.TASK_NAME:
            raise ValueError(f"{type(self).__name__} must set DOMAIN_NAME and TASK_NAME")
        self.root_dir = root_dir or REMOTE_ROOT_DIR
        self.output_name = output_name or REMOTE_OUTPUT_DIR
        self.os_type = OS_TYPE

    @property
    def task_id(self) -> str:
        """``<domain>/<task>``, as written in selected task lists and task cards."""
        return f"{self.DOMAIN_NAME}/{self.TASK_NAME}"

    @property
    def task_dir(self) -> str:
        return posixpath.join(self.root_dir, self.DOMAIN_NAME, self.TASK_NAME, self.VARIANT_NAME)

    @property
    def input_dir(self) -> str:
        return posixpath.join(self.task_dir, "input")

    @property
    def software_dir(self) -> str:
        return posixpath.join(self.task_dir, "software")

    @property
    def reference_dir(self) -> str:
        return posixpath.join(self.task_dir, "reference")

    @property
    def output_dir(self) -> str:
        return posixpath.join(self.task_dir, self.output_name)

    def _template_fields(self) -> dict[str, str]:
        return {
            "task_dir": self.task_dir,
            "input_dir": self.input_dir,
            "software_dir": self.software_dir,
            "output_dir": self.output_dir,
            "domain": self.DOMAIN_NAME,
            "task": self.TASK_NAME,
            "variant": self.VARIANT_NAME,
        }

    @property
    def task_description(self) -> str:
        """The instruction given to the agent, with canonical sandbox paths filled in."""
        if not self.DESCRIPTION_TEMPLATE:
            raise ValueError(f"{type(self).__name__} has no DESCRIPTION_TEMPLATE")
        return self.DESCRIPTION_TEMPLATE.strip().format(**self._template_fields())

    def to_metadata(self, **extra: Any) -> dict[str, Any]:
        """The ``metadata`` dict of the task's ``cb.Task``; ``extra`` keys are added last."""
        meta: dict[str, Any] = {
            "domain": self.DOMAIN_NAME,
            "task": self.TASK_NAME,
            "variant": self.VARIANT_NAME,
            "os_type": self.os_type,
            "remote_root_dir": self.root_dir,
            "task_dir": self.task_dir,
            "input_dir": self.input_dir,
            "software_dir": self.software_dir,
            "reference_dir": self.reference_dir,
            "output_dir": self.output_dir,
        }
        meta.update(extra)
        return meta
