"""demo/unit_conversion: convert an imperial parts spec sheet to metric.

Graded in the sandbox by ``scripts/score.py`` against ``reference/answer_key.json``
(per-cell, one cent of rounding slack).
"""

from __future__ import annotations

from pathlib import Path

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"


class UnitConversionConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "unit_conversion"
    DESCRIPTION_TEMPLATE = """
Our European customer needs the parts spec sheet {input_dir}/imperial_specs.csv in
metric units. Write {output_dir}/metric_specs.csv with the header
`part_no,description,length_mm,weight_kg,volume_l,max_temp_c` and one row per part, in
the input order, converting: inches to millimetres (1 in = 25.4 mm), pounds to kilograms
(1 lb = 0.45359237 kg), US liquid gallons to litres (1 gal = 3.785411784 L) and degrees
Fahrenheit to degrees Celsius. Round every converted value to 2 decimal places.
"""


CONFIG = UnitConversionConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["metric_specs.csv"]),
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
