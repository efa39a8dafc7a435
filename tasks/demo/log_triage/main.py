"""demo/log_triage: summarise the errors of a service log for an incident report.

Graded on the host: six checks (one per expected field in ``reference/answer_key.json``),
compared by canonical JSON so types matter.
"""

from __future__ import annotations

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output


class LogTriageConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "log_triage"
    DESCRIPTION_TEMPLATE = """
Write the error summary for this morning's incident report from the service log
{input_dir}/service.log. Each line is `<timestamp> <LEVEL> <component> <message>`; an
error line is one whose LEVEL field is ERROR or FATAL (the word appearing in a message
does not count). Error codes appear in messages as `code=<CODE>`.

Write {output_dir}/incident.json with exactly these keys:
- "error_count": number of error lines;
- "by_component": object mapping each component to its number of error lines;
- "first_error_at" / "last_error_at": timestamps of the first and last error line;
- "top_error_code": the code found on the most error lines;
- "fatal_components": sorted list of the components with at least one FATAL line.
"""


CONFIG = LogTriageConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["incident.json"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    import json

    from tasks.demo._shared.scoring import fraction, parse_json, read_answer_key, read_output

    expected = await read_answer_key(session, CONFIG)
    got = parse_json(await read_output(session, CONFIG, "incident.json"))
    if not isinstance(got, dict):
        return [0.0]

    def canon(value) -> str:
        return json.dumps(value, sort_keys=True)

    right = sum(1 for key, value in expected.items() if key in got and canon(got[key]) == canon(value))
    return [fraction(right, len(expected))]
