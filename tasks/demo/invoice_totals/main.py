"""demo/invoice_totals: compute invoice totals under regional sales-tax rules.

Graded on the host: each invoice contributes three cells (subtotal, tax, total) that must
equal the expected rows of ``reference/answer_key.json`` to the cent; extra or missing
invoices cost credit.
"""

from __future__ import annotations

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

AMOUNT_COLUMNS = ["subtotal", "tax", "total"]


class InvoiceTotalsConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "invoice_totals"
    DESCRIPTION_TEMPLATE = """
Accounts receivable needs the totals of this week's invoices. The invoice lines are in
{input_dir}/invoices.csv and the sales-tax rules per region in {input_dir}/tax_rules.json
(standard rate, exempt categories, reduced rates by category).

For each invoice: subtotal = sum of qty * unit_price over its lines; tax = the sum over its
lines of qty * unit_price * the rate that applies to the line's category in the invoice's
region, rounded once per invoice to cents, half up; total = subtotal + tax.

Write {output_dir}/totals.csv with the header `invoice_id,region,subtotal,tax,total`, one
row per invoice sorted by invoice_id, amounts with exactly two decimals.
"""


CONFIG = InvoiceTotalsConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["totals.csv"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)


def _cents(text: str | None):
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal((text or "").replace(",", "").strip()).quantize(Decimal("0.001"))
    except InvalidOperation:
        return None


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import fraction, parse_csv, read_answer_key, read_output

    required = ["invoice_id", *AMOUNT_COLUMNS]
    expected = await read_answer_key(session, CONFIG)
    if not expected or not all(isinstance(r, dict) and set(required) <= set(r) for r in expected):
        raise RuntimeError("reference/answer_key.json holds no usable invoice rows")
    got_rows = parse_csv(await read_output(session, CONFIG, "totals.csv"), required)
    if got_rows is None:
        return [0.0]
    got: dict[str, dict[str, str]] = {}
    for row in got_rows:
        got.setdefault(row["invoice_id"], row)
    right = 0
    for row in expected:
        mine = got.get(row["invoice_id"])
        if mine is None:
            continue
        for col in AMOUNT_COLUMNS:
            value = _cents(mine.get(col))
            right += value is not None and value == _cents(row[col])
    return [fraction(right, len(AMOUNT_COLUMNS) * max(len(expected), len(got_rows)))]
