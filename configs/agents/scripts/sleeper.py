#!/usr/bin/env python3
"""Script agent "sleeper": writes a partial answer, then never finishes.

Runs inside the sandbox (Python 3.11 stdlib only) with ``ALE_TASK_DIR`` set. It writes
``output/partial.txt``, prints one line ``sleeper: partial output written`` (flushed, so a
harness can wait for it without polling), then sleeps forever: the build's wall-time
limit must end it.
"""

import os
import sys
import time

TASK_DIR = os.environ.get("ALE_TASK_DIR", "")
OUT = os.path.join(TASK_DIR, os.environ.get("REMOTE_OUTPUT_DIR") or "output")


def main():
    if not TASK_DIR:
        print("sleeper: ALE_TASK_DIR not set", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "partial.txt"), "w", encoding="utf-8") as f:
        f.write(f"work in progress on {os.environ.get('ALE_TASK_ID', '?')}\n")
    print("sleeper: partial output written", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
