"""Progress for humans: a rich live panel on a TTY, plain lines otherwise.

It only listens to the event stream; it never decides anything.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.done = self.cached = self.failed = 0
        self.running: dict[str, float] = {}
        use_live = self.stream.isatty() if live is None else live
        self._live = None
        if use_live:  # rich is imported only for the live display (it costs start-up time)
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=self.stream)
            self._live = Live(console=self.console, refresh_per_second=8, transient=True)

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def __call__(self, ev: dict[str, Any]) -> None:
        kind = ev["event"]
        label = ev.get("label", "")
        if kind == "action_started":
            self.running[label] = time.monotonic()
            if self._live is None:
                self._line(f"run     {label}  ({', '.join(ev.get('reasons', []))})")
        elif kind == "action_cached":
            self.cached += 1
            self.done += 1
        elif kind in ("action_finished", "action_skipped"):
            self.running.pop(label, None)
            self.done += 1
            outcome = ev.get("outcome", "skipped")
            if outcome not in ("ok", "agent_failed"):
                self.failed += 1
            if self._live is None or outcome not in ("ok", "agent_failed"):
                dur = ev.get("duration_s")
                extra = f" {dur:.2f}s" if isinstance(dur, int | float) else ""
                reason = f": {ev['reason']}" if ev.get("reason") else ""
                self._line(f"{outcome:<8}{label}{extra}{reason}")
        elif kind == "action_retry":
            self._line(f"retry   {label} (attempt {ev.get('attempt')}): {ev.get('reason')}")
        elif kind in ("warning", "log"):
            self._line(f"{'warning' if kind == 'warning' else 'log':<8}{label} {ev.get('message', '')}")
        if self._live is not None:
            self._live.update(self._render())

    def _line(self, text: str) -> None:
        if self._live is not None:
            self.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def _render(self) -> Any:
        from rich.text import Text

        head = (
            f"[{self.done}/{self.total}] cached {self.cached}  running {len(self.running)}"
            f"  failed {self.failed}"
        )
        now = time.monotonic()
        lines = [head] + [
            f"  {label}  {now - t0:5.1f}s" for label, t0 in list(self.running.items())[:8]
        ]
        return Text("\n".join(lines))
