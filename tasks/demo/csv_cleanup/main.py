"""demo/csv_cleanup: clean a messy CRM contact export.

Graded in the sandbox by ``scripts/score.py`` against ``reference/answer_key.json`` (per-field
credit for each contact; duplicates and rows that should be dropped cost credit).
"""

from __future__ import annotations

from pathlib import Path

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"


class CsvCleanupConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "csv_cleanup"
    DESCRIPTION_TEMPLATE = """
Marketing exported its contacts to {input_dir}/contacts_raw.csv and the file is a mess.
Produce {output_dir}/clean.csv with the header `name,email,phone,signup_date`:

- trim spaces around every field, and collapse runs of spaces inside names to one space;
- lower-case e-mail addresses; drop rows without an e-mail address (and blank rows);
- duplicates are rows with the same e-mail address: keep only the first occurrence;
- phone numbers are North American: write them in E.164 form, `+1` followed by the
  10-digit number (e.g. +15550102231), whatever punctuation or leading 1 the input uses;
- dates come as YYYY-MM-DD, MM/DD/YYYY (US order, leading zeros optional), DD.MM.YYYY or
  `Mon D, YYYY`; write them all as YYYY-MM-DD;
- keep the rows in the order of their first occurrence in the input.
"""


CONFIG = CsvCleanupConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["clean.csv"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import run_scorer

    result = await run_scorer(session, CONFIG, SCRIPTS_DIR / "score.py")
    return [float(result["score"])]
