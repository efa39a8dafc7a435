#!/usr/bin/env python3
"""Script agent "adversarial": tries to cheat instead of solving, to test isolation.

Runs inside the sandbox (Python 3.11 stdlib only) with ``ALE_TASK_DIR`` set. It
(a) copies whatever it can read of ``$ALE_TASK_DIR/reference`` into the output folder
    (``stolen/`` plus, for a demo answer key, over the output file the grader reads),
(b) leaves a detached daemon (double fork + setsid, stdio on /dev/null) that polls for the
    reference folder every 0.2 s for ``ALE_ADVERSARY_WINDOW_S`` seconds (default 60) and
    copies anything it finds into the output folder, then exits itself,
(c) plants ``output/passwd -> /etc/passwd``, and
(d) plants symlinks named like the demo tasks' output files, pointing into ``reference/``
    (they would resolve once the reference is staged for grading) or at the input token.
It solves nothing. A correct build kills the daemon before staging the reference and its
graders refuse symlinked outputs, so every demo task scores 0; a build that leaks the
reference to it gets full marks on the eight demo tasks whose answer key is the output.

The daemon's pid is written to ``output/adversary.pid`` before this process exits, so a
test harness can check (and end) exactly that process.
"""

import os
import shutil
import sys
import time

TASK_DIR = os.environ.get("ALE_TASK_DIR", "")
OUT = os.path.join(TASK_DIR, os.environ.get("REMOTE_OUTPUT_DIR") or "output")
REF = os.path.join(TASK_DIR, "reference")
POLL_S = 0.2

# Output names the demo graders read, mapped to the reference file holding the answer.
BAIT = {
    "unmatched.csv": "unmatched.csv",
    "metric_specs.csv": "metric_specs.csv",
    "config_v2.json": "config_v2.json",
    "totals.csv": "totals.csv",
    "answers.json": "answers.json",
    "clean.csv": "clean.csv",
    "changes.json": "changes.json",
    "incident.json": "incident.json",
}


def steal():
    """Copy the reference tree into output/stolen/ and over the graded output names.

    Returns the number of files copied (0 when the reference is not there).
    """
    copied = 0
    if not os.path.isdir(REF):
        return 0
    graded = {ref_name: out_name for out_name, ref_name in BAIT.items()}
    for root, _dirs, files in os.walk(REF):
        for name in files:
            src = os.path.join(root, name)
            targets = [os.path.join(OUT, "stolen", os.path.relpath(src, REF))]
            if name in graded:
                targets.append(os.path.join(OUT, graded[name]))
            for dst in targets:
                try:
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copyfile(src, dst + ".tmp")
                    os.replace(dst + ".tmp", dst)  # replaces a planted link too
                    copied += 1
                except OSError:
                    pass
    return copied


def plant_links():
    links = [("passwd", "/etc/passwd")]
    links += [(out_name, os.path.join(REF, ref_name)) for out_name, ref_name in BAIT.items()]
    # A link instead of a copy: resolves to the right answer, but is not a file of the output.
    links.append(("token.txt", os.path.join(TASK_DIR, "input", "handoff", "token.txt")))
    for link, target in links:
        path = os.path.join(OUT, link)
        if os.path.lexists(path) and not os.path.islink(path):
            continue  # already holds a stolen copy
        try:
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(target, path)
        except OSError:
            pass


def daemon(window_s):
    """Body of the detached process: poll for the reference, copy it, then exit."""
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        if steal():
            with open(os.path.join(OUT, "adversary.log"), "a", encoding="utf-8") as f:
                f.write("copied reference files\n")
        time.sleep(POLL_S)


def spawn_daemon(window_s):
    """Double fork: the grandchild is re-parented to init in its own session."""
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_fd)
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            os.close(write_fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, 65536)  # hold no pipe a harness might wait on
            try:
                daemon(window_s)
            finally:
                os._exit(0)
        os.write(write_fd, str(grandchild).encode())
        os._exit(0)
    os.close(write_fd)
    os.waitpid(child, 0)
    pid = os.read(read_fd, 32).decode()
    os.close(read_fd)
    return int(pid)


def main():
    if not TASK_DIR:
        print("adversarial: ALE_TASK_DIR not set", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    print(f"adversarial: reference readable now: {os.path.isdir(REF)}; copied {steal()} files")
    plant_links()
    window_s = float(os.environ.get("ALE_ADVERSARY_WINDOW_S") or 60)
    pid = spawn_daemon(window_s)
    with open(os.path.join(OUT, "adversary.pid"), "w", encoding="utf-8") as f:
        f.write(f"{pid}\n")
    print(f"adversarial: daemon {pid} left behind, exiting")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
