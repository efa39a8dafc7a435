"""demo/secret_handoff: copy the current deploy token into the hand-off output.

``start()`` writes fresh random tokens with the ``random`` module (the build seeds it per
run, so runs are reproducible). ``load()`` is called again before grading, so the grader
reads the token back from the sandbox disk, never from module state.
"""

from __future__ import annotations

import posixpath
import random

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output, write_text_files

HEX = "0123456789abcdef"


class SecretHandoffConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "secret_handoff"
    DESCRIPTION_TEMPLATE = """
The deploy pipeline needs this shift's deploy token. The hand-off folder is
{input_dir} (see README.txt there). Copy the CURRENT token (not the previous shift's)
into {output_dir}/token.txt: the token alone on one line, nothing else.
"""


CONFIG = SecretHandoffConfig()


def _token() -> str:
    return "".join(random.choices(HEX, k=32))


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["token.txt"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)
    current, previous = _token(), _token()
    await write_text_files(
        session,
        CONFIG.input_dir,
        {"handoff/token.txt": current + "\n", "handoff/token.previous.txt": previous + "\n"},
    )


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import read_answer_key, read_output

    spec = await read_answer_key(session, CONFIG)
    source = posixpath.join(CONFIG.input_dir, spec["source_file"])
    if not await session.file_exists(source):
        raise RuntimeError(f"setup token missing: {source}")
    token = (await session.read_file(source)).strip()
    if len(token) != spec["token_length"] or set(token) - set(spec["alphabet"]):
        raise RuntimeError("setup token is malformed")
    got = await read_output(session, CONFIG, spec["output_file"], max_bytes=4096)
    return [1.0 if got is not None and got.strip() == token else 0.0]
