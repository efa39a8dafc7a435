"""demo/permission_policy: bring a deployment tree in line with a file-mode policy.

``start()`` creates ``output/deploy/`` with deliberately wrong modes; the agent fixes them
in place. The grader reads each file's mode with ``stat -c %a`` inside the sandbox and
compares it with the octal modes of ``reference/answer_key.json`` (fraction of files right).
"""

from __future__ import annotations

import posixpath
import shlex

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output, run, write_text_files

# relative path -> (content, initial wrong mode); every initial mode differs from the policy.
DEPLOY_FILES: dict[str, tuple[str, str]] = {
    "README.md": ("# billing-api deployment\n", "755"),
    "bin/deploy": ("#!/bin/sh\necho deploying\n", "777"),
    "bin/healthcheck": ("#!/bin/sh\nexit 0\n", "666"),
    "conf/app.conf": ("port = 8080\n", "666"),
    "conf/logging.conf": ("level = info\n", "600"),
    "conf/secrets/api.conf": ("api_key = redacted\n", "640"),
    "conf/secrets/db.key": ("-----BEGIN KEY-----\nredacted\n-----END KEY-----\n", "644"),
    "data/seed.json": ('{"customers": []}\n', "700"),
    "docs/runbook.md": ("1. page on-call\n2. roll back\n", "600"),
    "logs/app.log": ("2024-03-01T00:00:00Z started\n", "666"),
    "scripts/backup.sh": ("#!/bin/sh\ntar czf /tmp/b.tgz .\n", "644"),
    "scripts/notes.txt": ("rotate logs weekly\n", "600"),
    "scripts/rotate.sh": ("#!/bin/sh\nlogrotate /etc/logrotate.conf\n", "777"),
}


class PermissionPolicyConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "permission_policy"
    DESCRIPTION_TEMPLATE = """
A security audit found wrong file permissions in the deployment tree
{output_dir}/deploy. The required modes are in {input_dir}/policy.csv (columns
pattern,mode). Each pattern is matched against a file's path relative to the deploy
folder with shell-style wildcards where `*` also matches `/` (Python fnmatch semantics);
the FIRST matching row wins.

Change the permission bits of every regular file under {output_dir}/deploy to the mode
its policy row requires. Do not rename, move, delete or edit any file, and leave the
directories as they are.
"""


CONFIG = PermissionPolicyConfig()
DEPLOY_DIR = posixpath.join(CONFIG.output_dir, "deploy")


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["deploy/"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)
    await write_text_files(
        session, DEPLOY_DIR, {rel: content for rel, (content, _) in DEPLOY_FILES.items()}
    )
    chmods = " && ".join(
        f"chmod {mode} {shlex.quote(posixpath.join(DEPLOY_DIR, rel))}"
        for rel, (_, mode) in sorted(DEPLOY_FILES.items())
    )
    await run(session, chmods)


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import fraction, read_answer_key

    expected: dict[str, str] = await read_answer_key(session, CONFIG)  # path -> octal mode
    if not expected or not isinstance(expected, dict):
        raise RuntimeError("reference/answer_key.json holds no expected modes")
    # Only regular files that are not symlinks count: a link's mode is not the file's.
    probe = "; ".join(
        f"p={shlex.quote(posixpath.join(DEPLOY_DIR, rel))}; "
        f'if [ -f "$p" ] && [ ! -L "$p" ]; then echo "$(stat -c %a "$p")" {shlex.quote(rel)}; fi'
        for rel in expected
    )
    _, out, _ = await run(session, probe, check=False)
    actual: dict[str, int] = {}
    for line in out.splitlines():
        mode, _, rel = line.strip().partition(" ")
        if mode.isdigit():
            actual[rel] = int(mode, 8)
    right = sum(1 for rel, mode in expected.items() if actual.get(rel) == int(mode, 8))
    return [fraction(right, len(expected))]
