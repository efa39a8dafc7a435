"""The build's event stream: a JSONL log per build plus in-process listeners (progress UI).

Lines are flushed as written, except runs of ``action_cached`` lines (a no-op build emits
one per target), which are flushed with the next other event: a build killed mid-way leaves
a readable log of everything it started and finished.
Event names: build_started, action_cached, action_started, action_retry, action_finished,
action_skipped, log, warning, build_finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["EventBus", "read_events"]

Listener = Callable[[dict[str, Any]], None]


class EventBus:
    def __init__(self, log_path: Path | None, build_id: str) -> None:
        self.build_id = build_id
        self.log_path = log_path
        self._listeners: list[Listener] = []
        self._fh = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def cached(self, label: str, kind: str, key: str) -> None:
        """``emit("action_cached", ...)`` for the hot path of a no-op build (one per target):
        the line is formatted directly instead of through a sorted ``json.dumps``."""
        if self._listeners:
            self.emit("action_cached", label=label, kind=kind, key=key)
            return
        if self._fh is not None:
            self._fh.write(
                f'{{"event": "action_cached", "key": "{key}", "kind": "{kind}", '
                f'"label": {json.dumps(label)}, "ts": {round(time.time(), 6)}}}\n'
            )

    def emit(self, event: str, **fields: Any) -> None:
        record = {"ts": round(time.time(), 6), "event": event, **fields}
        if self._fh is not None:
            self._fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            if event != "action_cached":
                self._fh.flush()
        for listener in self._listeners:
            listener(record)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_events(path: Path) -> list[dict[str, Any]]:
    """Parse a build log; a torn last line (crash mid-write) is ignored."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
