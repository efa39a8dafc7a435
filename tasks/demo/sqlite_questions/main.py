"""demo/sqlite_questions: answer business questions from a retail SQLite database.

``start()`` builds ``input/warehouse.db`` inside the sandbox from a deterministic generator
(stdlib ``sqlite3``). Graded on the host: one check per question against the answers in
``reference/answer_key.json`` (numbers within 0.01, strings case-insensitively, objects
key by key).
"""

from __future__ import annotations

import posixpath

import cua_bench as cb

from tasks.common_config import LinuxTaskConfig
from tasks.demo._shared.setup import prepare_output, run_python

# Run in the sandbox as ``python3 -c BUILD_DB <db path>``; deterministic, no randomness.
BUILD_DB = '''
import datetime, sqlite3, sys
path = sys.argv[1]
con = sqlite3.connect(path)
con.executescript("""
DROP TABLE IF EXISTS sales; DROP TABLE IF EXISTS products; DROP TABLE IF EXISTS stores;
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, unit_cost REAL NOT NULL);
CREATE TABLE stores (id INTEGER PRIMARY KEY, city TEXT NOT NULL, region TEXT NOT NULL);
CREATE TABLE sales (id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL REFERENCES stores(id), product_id INTEGER NOT NULL REFERENCES products(id), sale_date TEXT NOT NULL, qty INTEGER NOT NULL, unit_price REAL NOT NULL);
""")
products = [(1, "Cordless Drill", "Tools", 54.00), (2, "Claw Hammer", "Tools", 7.50), (3, "Socket Set", "Tools", 31.20), (4, "Garden Hose 25m", "Garden", 12.40), (5, "Pruning Shears", "Garden", 9.80), (6, "Lawn Seed 5kg", "Garden", 18.00), (7, "LED Bulb 4-pack", "Electrical", 6.10), (8, "Extension Cord", "Electrical", 8.90), (9, "Paint Roller", "Paint", 3.20), (10, "Wall Paint 10L", "Paint", 41.00)]
stores = [(1, "Leeds", "North"), (2, "York", "North"), (3, "Bristol", "South"), (4, "Brighton", "South"), (5, "Cardiff", "West"), (6, "Swansea", "West")]
con.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", products)
con.executemany("INSERT INTO stores VALUES (?, ?, ?)", stores)
start = datetime.date(2024, 1, 1)
rows = []
for i in range(240):
    product = products[(i * 7 + i // 5) % 10]
    list_price = product[3] * 1.6
    discount = (0.0, 0.05, 0.10, 0.0)[(i * 13) % 4]
    rows.append((i + 1, (i * 5 + i // 9) % 6 + 1, product[0],
                 (start + datetime.timedelta(days=(i * 11) % 91)).isoformat(),
                 (i * 3 + i // 7) % 5 + 1, round(list_price * (1 - discount), 2)))
con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?)", rows)
con.commit()
con.close()
'''


class SqliteQuestionsConfig(LinuxTaskConfig):
    DOMAIN_NAME = "demo"
    TASK_NAME = "sqlite_questions"
    DESCRIPTION_TEMPLATE = """
The retail analytics team has a SQLite database of Q1 2024 sales at
{input_dir}/warehouse.db (tables products, stores, sales). Answer the questions in
{input_dir}/questions.json and write {output_dir}/answers.json: one JSON object mapping
each question id to its answer, using the answer type the question names (numbers as JSON
numbers, names as strings, objects as JSON objects).
"""


CONFIG = SqliteQuestionsConfig()
DB_PATH = posixpath.join(CONFIG.input_dir, "warehouse.db")


@cb.tasks_config(split="train")
def load():
    return [
        cb.Task(
            description=CONFIG.task_description,
            metadata=CONFIG.to_metadata(output_files=["answers.json"]),
            computer={"provider": "computer", "setup_config": {"os_type": "linux"}},
        )
    ]


@cb.setup_task(split="train")
async def start(task_cfg, session):
    await prepare_output(session, CONFIG.output_dir)
    await run_python(session, BUILD_DB, DB_PATH)


def _same(got, expected) -> bool:
    """One answer equals the reference: numbers within 0.01, strings case-insensitively."""
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(_same(got[k], expected[k]) for k in expected)
        )
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(got, str):
            try:
                got = float(got.replace(",", ""))
            except ValueError:
                return False
        return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - expected) <= 0.01
    return isinstance(got, str) and got.strip().casefold() == str(expected).casefold()


@cb.evaluate_task(split="train")
async def evaluate(task_cfg, session) -> list[float]:
    from tasks.demo._shared.scoring import fraction, parse_json, read_answer_key, read_output

    expected = await read_answer_key(session, CONFIG)
    got = parse_json(await read_output(session, CONFIG, "answers.json"))
    if not isinstance(got, dict):
        return [0.0]
    right = sum(1 for qid, answer in expected.items() if qid in got and _same(got[qid], answer))
    return [fraction(right, len(expected))]
