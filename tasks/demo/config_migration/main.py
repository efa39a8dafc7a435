"""demo/config_migration: migrate a service configuration from schema v1 to v2.

Graded on the host: each v2 field (and "no unexpected top-level keys") is one check,
compared with the expected document in ``reference/answer_key.json`` by canonical JSON,
so 1, 1.0 and true differ.
"""

from __future__ import annotations

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output

CHECKED_FIELDS = [
    "schema_version", "service.name", "service.bind_host", "service.bind_port",
    "database.primary", "database.name", "database.user", "database.replicas",
    "timeouts_ms.request", "timeouts_ms.retry_backoff", "retry_count", "logging.level",
    "features.enabled", "features.disabled", "tls.enabled",
]


class ConfigMigrationConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "config_migration"
    DESCRIPTION_TEMPLATE = """
The billing service is moving to configuration schema v2. Convert
{input_dir}/config_v1.json to the v2 format specified in {input_dir}/MIGRATION.md and
write the result, as a single JSON object, to {output_dir}/config_v2.json. Keep values
exactly as the specification says (integers as integers, booleans as booleans).
"""


CONFIG = ConfigMigrationConfig()


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["config_v2.json"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)


_MISSING = object()


def _lookup(doc, dotted: str):
    """Value at a dotted path of nested dicts, or ``_MISSING``."""
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    import json

    from tasks.demo._shared.scoring import fraction, parse_json, read_answer_key, read_output

    expected = await read_answer_key(session, CONFIG)
    got = parse_json(await read_output(session, CONFIG, "config_v2.json"))
    if not isinstance(got, dict):
        return [0.0]

    def canon(value) -> str:
        return json.dumps(value, sort_keys=True)

    passed = sum(
        1
        for field in CHECKED_FIELDS
        if (value := _lookup(got, field)) is not _MISSING
        and canon(value) == canon(_lookup(expected, field))
    )
    passed += set(got) == set(expected)
    return [fraction(passed, len(CHECKED_FIELDS) + 1)]
