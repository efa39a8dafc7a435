"""demo/bank_reconciliation: month-end bank-to-ledger reconciliation.

The agent matches a bank statement against the cash ledger and lists what does not
match. Graded in the sandbox by ``scripts/score.py`` against ``reference/answer_key.json``.
"""

from __future__ import annotations

from pathlib import Path

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"


class BankReconciliationConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "bank_reconciliation"
    DESCRIPTION_TEMPLATE = """
You are closing the March 2024 books of a small company. Reconcile the bank statement
{input_dir}/bank_statement.csv against the cash ledger {input_dir}/ledger.csv.

Matching rule: a bank line and a ledger entry match when their amounts are equal to the
cent and their dates are at most 3 days apart. Process bank lines in file order; each bank
line matches the earliest-dated eligible ledger entry that is not matched yet (ties: the
lower entry_id). Every line and every entry matches at most once.

Write {output_dir}/unmatched.csv with the header `source,id,date,amount` and one row per
item left unmatched: source is `bank` (id = bank_ref) or `ledger` (id = entry_id), date as
YYYY-MM-DD, amount with two decimals as in the input. Sort rows by source, then id.
"""


CONFIG = BankReconciliationConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["unmatched.csv"]),
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
