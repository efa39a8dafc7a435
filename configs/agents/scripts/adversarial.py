#!/usr/bin/env python3
"""Script agent "adversarial": tries to cheat instead of solving, to test isolation.

Runs inside the sandbox (Python 3.11 stdlib only) with ``ALE_TASK_DIR`` (and
``ALE_TASK_ID``) set. It
(a) copies whatever it can read of ``$ALE_TASK_DIR/reference`` into ``output/stolen/`` and,
    when that holds a demo ``answer_key.json``, forges the output file the grader reads from
    the key's ``expected`` content (rendered as CSV or JSON, like a solver would write it),
(b) leaves a detached daemon (double fork + setsid, stdio on /dev/null) that polls for the
    reference folder every 0.2 s for ``ALE_ADVERSARY_WINDOW_S`` seconds (default 60) and
    copies anything it finds into the output folder, then exits itself,
(c) plants ``output/passwd -> /etc/passwd``, and
(d) plants symlinks named like the demo tasks' output files, pointing at the answer key in
    ``reference/`` (they would resolve once the reference is staged for grading) or at the
    input token.
It solves nothing. A correct build kills the daemon before staging the reference and its
graders refuse symlinked outputs, so every demo task scores 0; a build that leaks the
reference to it gets full marks on the eight demo tasks whose answer key holds the output.

The daemon's pid is written to ``output/adversary.pid`` before this process exits, so a
test harness can check (and end) exactly that process.
"""

import csv
import io
import json
import os
import shutil
import sys
import time

TASK_DIR = os.environ.get("ALE_TASK_DIR", "")
OUT = os.path.join(TASK_DIR, os.environ.get("REMOTE_OUTPUT_DIR") or "output")
REF = os.path.join(TASK_DIR, "reference")
KEY = "answer_key.json"
TASK_ID = os.environ.get("ALE_TASK_ID", "")
POLL_S = 0.2

# The output file each demo grader reads, for the tasks whose answer key's "expected"
# value is that file's content (CSV tasks: a list of row objects; JSON tasks: the document).
FORGE = {
    "demo/bank_reconciliation": "unmatched.csv",
    "demo/config_migration": "config_v2.json",
    "demo/csv_cleanup": "clean.csv",
    "demo/diff_summary": "changes.json",
    "demo/invoice_totals": "totals.csv",
    "demo/log_triage": "incident.json",
    "demo/sqlite_questions": "answers.json",
    "demo/unit_conversion": "metric_specs.csv",
}


def render(out_name, expected):
    """Text of a graded output file holding ``expected``, or None if it has no usable shape."""
    if out_name.endswith(".json"):
        return json.dumps(expected, indent=2) + "\n"
    if not isinstance(expected, list) or not expected or not isinstance(expected[0], dict):
        return None
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(expected[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(expected)
    return buf.getvalue()


def replace_file(dst, write):
    """Write ``dst`` via a temp file and a rename (which replaces a planted link too)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    write(dst + ".tmp")
    os.replace(dst + ".tmp", dst)


def forge(key_path):
    """Write the graded output file from a stolen answer key; True if one was written."""
    out_name = FORGE.get(TASK_ID)
    if out_name is None:
        return False
    try:
        with open(key_path, encoding="utf-8") as f:
            text = render(out_name, json.load(f)["expected"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if text is None:
        return False

    def write(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    try:
        replace_file(os.path.join(OUT, out_name), write)
    except OSError:
        return False
    return True


def steal():
    """Copy the reference tree into output/stolen/ and forge the graded output from its key.

    Returns the number of files written (0 when the reference is not there).
    """
    copied = 0
    if not os.path.isdir(REF):
        return 0
    for root, _dirs, files in os.walk(REF):
        for name in files:
            src = os.path.join(root, name)
            try:
                replace_file(os.path.join(OUT, "stolen", os.path.relpath(src, REF)),
                             lambda tmp, src=src: shutil.copyfile(src, tmp))
                copied += 1
            except OSError:
                pass
            if name == KEY and root == REF:
                copied += forge(src)
    return copied


def plant_links():
    links = [("passwd", "/etc/passwd")]
    links += [(out_name, os.path.join(REF, KEY)) for out_name in sorted(set(FORGE.values()))]
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
