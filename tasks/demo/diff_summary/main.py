"""demo/diff_summary: summarise what changed between two editions of a handbook.

Graded on the host: the mean Jaccard similarity of the added, removed and changed section
lists with the ones in ``reference/answer_key.json``.
"""

from __future__ import annotations

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

LISTS = ["added", "removed", "changed"]


class DiffSummaryConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "diff_summary"
    DESCRIPTION_TEMPLATE = """
HR published a new edition of the employee handbook. Compare {input_dir}/handbook_v1.md
(old) with {input_dir}/handbook_v2.md (new). A section starts at a line beginning with
`## ` (its title is the rest of that line, trimmed) and runs to the next such line; text
before the first section does not count. A section is changed when it exists in both
editions and its body differs once each line is trimmed and blank lines are ignored.

Write {output_dir}/changes.json as {{"added": [...], "removed": [...], "changed": [...]}}
listing section titles, each list sorted alphabetically.
"""


CONFIG = DiffSummaryConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["changes.json"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import jaccard, parse_json, read_answer_key, read_output

    expected = await read_answer_key(session, CONFIG)
    got = parse_json(await read_output(session, CONFIG, "changes.json"))
    if not isinstance(got, dict):
        return [0.0]
    return [sum(jaccard(got.get(name), expected[name]) for name in LISTS) / len(LISTS)]
