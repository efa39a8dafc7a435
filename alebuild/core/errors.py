"""The three kinds of error, by meaning (STYLE 4).

- ``UserError``: the workspace is wrong (BUILD.toml, labels, missing secret). Exit code 2.
  Carries the file, line and field so the message points at the mistake.
- ``InfraError``: provisioning, transport, quota. Retryable, never cached.
- ``ActionFailure``: the action ran and produced a *result* that is a failure
  (``agent_failed`` is cached like ``ok``; ``grader_error`` is reported, never cached).
"""

from __future__ import annotations

__all__ = ["AlebuildError", "UserError", "InfraError", "ActionFailure", "CycleError"]


class AlebuildError(Exception):
    """Base of every error alebuild raises on purpose."""


class UserError(AlebuildError):
    """A mistake in the workspace or on the command line; fix the input and rerun."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{field}{self.message}{hint}"


class CycleError(UserError):
    """A dependency cycle; ``cycle`` lists the labels, first repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


class InfraError(AlebuildError):
    """Infrastructure trouble (sandbox, network, quota): retried with backoff, never cached."""


class ActionFailure(AlebuildError):
    """An action finished with a failing outcome.

    ``outcome`` is ``agent_failed`` (a legitimate, cacheable result) or ``grader_error``
    (never cached). Rules usually return an ``Output`` with that outcome instead of raising;
    raising is for failures discovered deep in helper code.
    """

    def __init__(self, outcome: str, reason: str) -> None:
        self.outcome = outcome
        self.reason = reason
        super().__init__(f"{outcome}: {reason}")
