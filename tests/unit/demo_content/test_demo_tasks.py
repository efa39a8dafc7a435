"""Content tests for the demo task packages and script agents, without the alebuild engine.

Each task runs end to end in-process: ``REMOTE_ROOT_DIR`` points at a temp dir (so the
canonical task paths are real host paths), a minimal ``cua_bench`` stand-in loads
``main.py``, a fake session implements the ALE session surface over the host, and script
agents run as subprocesses with the ``ALE_*`` environment they get in a sandbox.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "tasks" / "demo"
SELECTED = REPO / "tasks" / "selected"
AGENTS = REPO / "configs" / "agents" / "scripts"
TASKS = sorted(p.name for p in DEMO.iterdir() if (p / "main.py").is_file())
AGENT_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
SNAPSHOTS = {"cpu-free-ubuntu", "cpu-free", "cpu-license", "gpu-free", "gpu-license"}
ANSWER_KEY = "answer_key.json"


# --- a minimal cua_bench stand-in and ALE session over the host ----------------------


@dataclass
class Task:
    description: str
    metadata: dict = field(default_factory=dict)
    computer: dict = field(default_factory=dict)


def _passthrough(split: str = "train"):
    return lambda fn: fn


def _fake_cua_bench() -> types.ModuleType:
    mod = types.ModuleType("cua_bench")
    mod.Task = Task
    mod.tasks_config = mod.setup_task = mod.evaluate_task = _passthrough
    return mod


class Result(dict):
    """A command result readable both as ``r.stdout`` and ``r["stdout"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class HostSession:
    """The ALE DesktopSession surface (async), acting directly on host paths."""

    def __init__(self, path_env: str) -> None:
        self.interface = self
        self.commands: list[str] = []
        self._env = {**os.environ, "PATH": path_env}

    async def run_command(self, cmd: str, check: bool = False) -> Result:
        self.commands.append(cmd)
        proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=self._env, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        return Result(stdout=proc.stdout, stderr=proc.stderr, returncode=proc.returncode)

    async def read_file(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    async def read_bytes(self, path: str) -> bytes:
        return Path(path).read_bytes()

    async def write_file(self, path: str, text: str) -> None:
        Path(path).write_text(text, encoding="utf-8")

    async def write_bytes(self, path: str, data: bytes) -> None:
        Path(path).write_bytes(data)

    async def file_exists(self, path: str) -> bool:
        return Path(path).is_file()

    async def directory_exists(self, path: str) -> bool:
        return Path(path).is_dir()

    async def list_dir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    async def create_dir(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    async def delete_dir(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)


def _purge_task_modules() -> None:
    for name in [n for n in sys.modules if n == "tasks.common_config" or n.startswith("tasks.demo")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Loaded task modules over a temp REMOTE_ROOT_DIR, plus a session factory."""
    root = tmp_path_factory.mktemp("agenthle")
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python3").symlink_to(AGENT_PYTHON)  # the sandbox's python3
    saved_cua = sys.modules.get("cua_bench")
    added_path = str(REPO) not in sys.path
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REMOTE_ROOT_DIR", str(root))
        mp.delenv("REMOTE_OUTPUT_DIR", raising=False)
        mp.setenv("OS_TYPE", "linux")
        mp.setattr(sys, "dont_write_bytecode", True)  # keep tasks/ free of __pycache__
        if added_path:
            sys.path.insert(0, str(REPO))
        sys.modules["cua_bench"] = _fake_cua_bench()
        _purge_task_modules()
        modules = {}
        for name in TASKS:
            spec = importlib.util.spec_from_file_location(f"demo_task_{name}", DEMO / name / "main.py")
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            modules[name] = mod
        try:
            yield types.SimpleNamespace(
                root=root,
                modules=modules,
                session=lambda: HostSession(f"{bin_dir}{os.pathsep}{os.environ['PATH']}"),
            )
        finally:
            _purge_task_modules()
            if saved_cua is None:
                sys.modules.pop("cua_bench", None)
            else:
                sys.modules["cua_bench"] = saved_cua
            if added_path:
                sys.path.remove(str(REPO))


# --- driving one unit: setup, agent, reference staging, grading ----------------------


def _task_dir(demo, task: str) -> Path:
    return demo.root / "demo" / task / "base"


async def _setup(demo, task: str):
    """Fresh task dir with input/ staged, then ``start()``; returns (module, cfg, session)."""
    task_dir = _task_dir(demo, task)
    shutil.rmtree(task_dir, ignore_errors=True)
    task_dir.mkdir(parents=True)
    shutil.copytree(DEMO / task / "input", task_dir / "input")
    mod = demo.modules[task]
    cfg = mod.load()[0]
    session = demo.session()
    await mod.start(cfg, session)
    return mod, cfg, session


def _agent_env(demo, task: str, cfg) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REMOTE_OUTPUT_DIR"}
    env.update(ALE_TASK_DIR=str(_task_dir(demo, task)), ALE_TASK_ID=f"demo/{task}",
               ALE_INSTRUCTION=cfg.description)
    return env


def _run_agent(demo, task: str, cfg, agent: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AGENT_PYTHON, str(AGENTS / f"{agent}.py")], input=cfg.description, text=True,
        capture_output=True, env=_agent_env(demo, task, cfg), timeout=60,
    )


async def _grade(demo, task: str, mod, cfg, session) -> float:
    shutil.copytree(DEMO / task / "reference", _task_dir(demo, task) / "reference")
    result = await mod.evaluate(cfg, session)
    assert isinstance(result, list) and len(result) == 1, result
    score = result[0]
    assert isinstance(score, float) and 0.0 <= score <= 1.0, score
    return score


async def _score_agent(demo, task: str, agent: str) -> float:
    mod, cfg, session = await _setup(demo, task)
    proc = _run_agent(demo, task, cfg, agent)
    assert proc.returncode == 0, proc.stderr
    return await _grade(demo, task, mod, cfg, session)


def _kill_daemon(pid: int) -> None:
    """End the adversary's daemon by pid and wait until it is gone (pidfd: no reuse race)."""
    fd = os.pidfd_open(pid)  # raises ProcessLookupError if the daemon is already gone
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        ready, _, _ = select.select([fd], [], [], 30)
        assert ready, f"daemon {pid} survived SIGKILL"
    finally:
        os.close(fd)


# --- the agents ------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
async def test_careful_agent_scores_full_marks(demo, task):
    assert await _score_agent(demo, task, "careful") == 1.0


# Exact per-task scores of the sloppy agent: the scoreboard's expected spread (a grader
# change that moves one of these changes published numbers, so it must be deliberate).
SLOPPY_SCORES = {
    "bank_reconciliation": 5 / 8,
    "config_migration": 8 / 16,
    "csv_cleanup": 8 / 15,
    "diff_summary": 2 / 3,
    "invoice_totals": 12 / 24,
    "log_triage": 2 / 6,
    "permission_policy": 5 / 13,
    "secret_handoff": 0.0,
    "sqlite_questions": 3 / 6,
    "unit_conversion": 24 / 40,
}


async def test_sloppy_agent_gets_partial_credit_across_the_suite(demo):
    scores = {task: await _score_agent(demo, task, "sloppy") for task in TASKS}
    assert scores == pytest.approx(SLOPPY_SCORES, abs=1e-12)
    assert all(s < 1.0 for s in scores.values()), scores
    partial = [t for t, s in scores.items() if 0.0 < s < 1.0]
    assert len(partial) >= len(TASKS) - 2, scores
    mean = sum(scores.values()) / len(scores)
    assert 0.3 <= mean <= 0.6, scores


@pytest.mark.parametrize("task", TASKS)
async def test_adversarial_agent_scores_zero(demo, task):
    mod, cfg, session = await _setup(demo, task)
    proc = _run_agent(demo, task, cfg, "adversarial")
    assert proc.returncode == 0, proc.stderr
    output = _task_dir(demo, task) / "output"
    assert (output / "passwd").is_symlink()
    assert not (output / "stolen").exists()  # the reference was absent while it ran
    pid = int((output / "adversary.pid").read_text())
    assert os.getsid(pid) != os.getsid(0)  # detached into its own session, still alive
    _kill_daemon(pid)
    assert await _grade(demo, task, mod, cfg, session) == 0.0


@pytest.mark.parametrize("task", TASKS)
async def test_adversarial_agent_cashes_in_on_a_leaked_reference(demo, task):
    """The probe is real: with the reference staged too early, it steals the answer key and
    forges the graded output from it (the key itself is never a valid output file)."""
    mod, cfg, session = await _setup(demo, task)
    task_dir = _task_dir(demo, task)
    shutil.copytree(DEMO / task / "reference", task_dir / "reference")
    proc = _run_agent(demo, task, cfg, "adversarial")
    assert proc.returncode == 0, proc.stderr
    _kill_daemon(int((task_dir / "output" / "adversary.pid").read_text()))
    key = (DEMO / task / "reference" / ANSWER_KEY).read_bytes()
    assert (task_dir / "output" / "stolen" / ANSWER_KEY).read_bytes() == key
    shutil.rmtree(task_dir / "reference")
    key_is_output = task not in ("permission_policy", "secret_handoff")
    if key_is_output:
        (graded,) = cfg.metadata["output_files"]
        forged = task_dir / "output" / graded
        assert not forged.is_symlink() and forged.read_bytes() != key
    score = await _grade(demo, task, mod, cfg, session)
    assert score == (1.0 if key_is_output else 0.0)


@pytest.mark.parametrize("task", TASKS)
async def test_answer_key_copied_verbatim_as_the_output_scores_zero(demo, task):
    """The wrapper makes the key unusable as an answer: a copy of it is no solution."""
    mod, cfg, session = await _setup(demo, task)
    output = _task_dir(demo, task) / "output"
    for name in cfg.metadata["output_files"]:
        if not name.endswith("/"):
            shutil.copyfile(DEMO / task / "reference" / ANSWER_KEY, output / name)
    assert await _grade(demo, task, mod, cfg, session) == 0.0


@pytest.mark.parametrize("task", TASKS)
async def test_empty_output_scores_zero(demo, task):
    mod, cfg, session = await _setup(demo, task)
    assert await _grade(demo, task, mod, cfg, session) == 0.0


@pytest.mark.parametrize("task", [t for t in TASKS if t != "permission_policy"])
async def test_garbled_output_scores_zero_without_raising(demo, task):
    mod, cfg, session = await _setup(demo, task)
    output = _task_dir(demo, task) / "output"
    for name in cfg.metadata["output_files"]:
        (output / name).write_bytes(b"\xff\xfe\x00garbage,\n{not json\n")
    assert await _grade(demo, task, mod, cfg, session) == 0.0


async def test_sleeper_leaves_partial_output_and_is_ended_by_pid(demo):
    task = "csv_cleanup"
    mod, cfg, session = await _setup(demo, task)
    proc = subprocess.Popen(
        [AGENT_PYTHON, str(AGENTS / "sleeper.py")], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, text=True, env=_agent_env(demo, task, cfg),
    )
    try:
        assert proc.stdout.readline().strip() == "sleeper: partial output written"
        assert proc.poll() is None  # still running: only a wall-time limit ends it
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert (_task_dir(demo, task) / "output" / "partial.txt").is_file()
    assert await _grade(demo, task, mod, cfg, session) == 0.0


# --- task-specific behaviour -----------------------------------------------------------


async def test_secret_token_comes_from_seeded_random_and_is_read_back_from_disk(demo):
    token_file = _task_dir(demo, "secret_handoff") / "input" / "handoff" / "token.txt"
    tokens = []
    for seed in (7, 7, 8):
        random.seed(seed)
        await _setup(demo, "secret_handoff")
        tokens.append(token_file.read_text().strip())
    assert tokens[0] == tokens[1] != tokens[2]
    assert len(tokens[0]) == 32 and set(tokens[0]) <= set("0123456789abcdef")

    mod, cfg, session = await _setup(demo, "secret_handoff")
    (_task_dir(demo, "secret_handoff") / "output" / "token.txt").write_text("0" * 32 + "\n")
    assert await _grade(demo, "secret_handoff", mod, cfg, session) == 0.0


async def test_permission_policy_starts_with_every_mode_wrong(demo):
    await _setup(demo, "permission_policy")
    deploy = _task_dir(demo, "permission_policy") / "output" / "deploy"
    key = json.loads((DEMO / "permission_policy" / "reference" / ANSWER_KEY).read_text())
    expected = {path: int(mode, 8) for path, mode in key["expected"].items()}
    actual = {str(p.relative_to(deploy)): p.stat().st_mode & 0o777 for p in deploy.rglob("*") if p.is_file()}
    assert set(actual) == set(expected)
    assert all(actual[p] != expected[p] for p in expected)


async def test_sqlite_database_is_built_by_start(demo):
    await _setup(demo, "sqlite_questions")
    db = _task_dir(demo, "sqlite_questions") / "input" / "warehouse.db"
    import sqlite3

    con = sqlite3.connect(db)
    try:
        counts = [con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("products", "stores", "sales")]
    finally:
        con.close()
    assert counts == [10, 6, 240]


def test_descriptions_name_canonical_paths_and_never_the_reference(demo):
    for task, mod in demo.modules.items():
        (cfg,) = mod.load()
        task_dir = str(_task_dir(demo, task))
        assert f"{task_dir}/input" in cfg.description
        assert f"{task_dir}/output" in cfg.description
        assert "reference" not in cfg.description
        assert cfg.metadata["task_dir"] == task_dir
        assert cfg.computer == {"provider": "computer", "setup_config": {"os_type": "linux"}}


def test_linux_task_config_paths_and_metadata(demo):
    from tasks.common_config import LinuxTaskConfig

    class Probe(LinuxTaskConfig):
        DOMAIN_NAME = "demo"
        TASK_NAME = "probe"
        DESCRIPTION_TEMPLATE = "Read {input_dir}, write {output_dir}."

    cfg = Probe(root_dir="/media/user/data/agenthle", output_name="out")
    assert cfg.task_dir == "/media/user/data/agenthle/demo/probe/base"
    assert cfg.reference_dir == cfg.task_dir + "/reference"
    assert cfg.task_description == f"Read {cfg.task_dir}/input, write {cfg.task_dir}/out."
    meta = cfg.to_metadata(extra=1)
    assert meta["output_dir"] == cfg.task_dir + "/out" and meta["extra"] == 1
    assert Probe().root_dir == str(demo.root)  # read from REMOTE_ROOT_DIR at import

    class Broken(LinuxTaskConfig):
        TASK_NAME = "x"

    with pytest.raises(ValueError):
        Broken()


# --- the hidden reference shares no blob or tree with anything published ---------------
#
# Artifact trees (everything in the task dir but reference/) and the task package minus
# reference/ go to shared caches, possibly public ones; a blob or tree there whose digest
# equals a reference digest would leak the answer. Digests cover bytes (and, for trees,
# names and modes), so equal bytes / equal name+bytes trees are the conservative test.


def _files(root: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Regular files under ``root`` (links not followed), minus top-level dirs in ``skip``."""
    return [
        p for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.relative_to(root).parts[0] not in skip
    ]


def _tree_shape(folder: Path) -> tuple:
    """Names and bytes of a folder, recursively (modes ignored: stricter than a digest)."""
    entries = []
    for child in sorted(folder.iterdir()):
        if child.is_symlink():
            entries.append((child.name, "link", os.readlink(child)))
        elif child.is_dir():
            entries.append((child.name, "dir", _tree_shape(child)))
        else:
            entries.append((child.name, "file", child.read_bytes()))
    return tuple(entries)


def _reference_blobs() -> dict[bytes, Path]:
    return {p.read_bytes(): p for task in TASKS for p in _files(DEMO / task / "reference")}


def test_every_reference_is_one_wrapped_answer_key():
    for task in TASKS:
        ref = DEMO / task / "reference"
        assert [p.name for p in ref.iterdir()] == [ANSWER_KEY], task
        key = json.loads((ref / ANSWER_KEY).read_text())
        assert key["task"] == f"demo/{task}" and "never shown to agents" in key["note"]
        assert key["expected"], task


def test_no_reference_blob_or_tree_is_in_the_published_task_material():
    blobs = _reference_blobs()
    shapes = {_tree_shape(DEMO / task / "reference") for task in TASKS}
    published = [p for p in _files(DEMO) if "reference" not in p.relative_to(DEMO).parts]
    assert len(published) > 3 * len(TASKS)
    for path in published:
        assert path.read_bytes() not in blobs, path
    for folder in [DEMO, *(p for p in DEMO.rglob("*") if p.is_dir() and p.name != "reference")]:
        assert _tree_shape(folder) not in shapes, folder


@pytest.mark.parametrize("agent", ["careful", "sloppy"])
@pytest.mark.parametrize("task", TASKS)
async def test_agent_artifacts_share_no_blob_or_tree_with_the_reference(demo, task, agent):
    """What an agent leaves in the task dir (the artifact tree) never equals a reference
    file or the reference folder, so publishing artifacts never publishes an answer key."""
    mod, cfg, session = await _setup(demo, task)
    assert _run_agent(demo, task, cfg, agent).returncode == 0
    task_dir = _task_dir(demo, task)
    assert not (task_dir / "reference").exists()
    written = _files(task_dir / "output")
    assert written, "the agent wrote output files"
    blobs = _reference_blobs()
    for path in _files(task_dir):
        assert path.read_bytes() not in blobs, path
    shapes = {_tree_shape(DEMO / t / "reference") for t in TASKS}
    for folder in [task_dir, *(p for p in task_dir.rglob("*") if p.is_dir() and not p.is_symlink())]:
        assert _tree_shape(folder) not in shapes, folder
    if agent == "careful":  # the key is never byte-identical to the correct output
        assert await _grade(demo, task, mod, cfg, session) == 1.0
        key = (task_dir / "reference" / ANSWER_KEY).read_bytes()
        assert all(p.read_bytes() != key for p in written)


@pytest.mark.parametrize("task", [t for t in TASKS if t != "permission_policy"])
async def test_symlink_to_a_correct_answer_scores_zero(demo, task):
    """The graders refuse a linked output even when the link resolves to a right answer."""
    mod, cfg, session = await _setup(demo, task)
    assert _run_agent(demo, task, cfg, "careful").returncode == 0
    task_dir = _task_dir(demo, task)
    (task_dir / "elsewhere").mkdir()
    for name in cfg.metadata["output_files"]:
        moved = task_dir / "elsewhere" / name
        (task_dir / "output" / name).rename(moved)
        (task_dir / "output" / name).symlink_to(moved)
    assert await _grade(demo, task, mod, cfg, session) == 0.0


@pytest.mark.parametrize("task", TASKS)
async def test_another_tasks_answer_key_is_a_grader_error(demo, task):
    """A key written for another task raises (a grader bug), it never scores."""
    mod, cfg, session = await _setup(demo, task)
    other = TASKS[(TASKS.index(task) + 1) % len(TASKS)]
    shutil.copytree(DEMO / other / "reference", _task_dir(demo, task) / "reference")
    with pytest.raises(RuntimeError):
        await mod.evaluate(cfg, session)


# --- package structure -----------------------------------------------------------------


def _imports(nodes) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_scoring_helper_is_imported_only_inside_evaluate():
    grade_only = "tasks.demo._shared.scoring"
    used_inside = 0
    for task in TASKS:
        tree = ast.parse((DEMO / task / "main.py").read_text())
        assert grade_only not in _imports(tree.body), task
        evaluate = next(n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "evaluate")
        used_inside += grade_only in _imports(ast.walk(evaluate))
        assert "tasks.demo._shared.setup" in _imports(tree.body), task
    assert used_inside == len(TASKS)


def test_task_cards_are_complete():
    for task in TASKS:
        card = json.loads((DEMO / task / "task_card.json").read_text())
        assert card["taskId"] == f"demo/{task}"
        assert all(isinstance(card[k], str) and card[k] for k in ("title", "summary", "category"))
        vm = card["vm"]
        assert vm["snapshot"] in SNAPSHOTS
        assert vm["machineType"] == "e2-small" and vm["timeout"] == 600
        assert (DEMO / task / "input").is_dir() and any((DEMO / task / "reference").iterdir())
    assert not list((REPO / "tasks").rglob("__init__.py"))


def _read_list(name: str) -> list[str]:
    lines = (SELECTED / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_selected_lists_name_existing_packages_and_tiers_partition_the_suite():
    full = _read_list("demo.txt")
    near, last = _read_list("demo-near-term.txt"), _read_list("demo-last-exam.txt")
    assert sorted(full) == [f"demo/{t}" for t in TASKS]
    assert not set(near) & set(last)
    assert sorted(near + last) == sorted(full)
    for entry in full:
        assert (REPO / "tasks" / entry / "main.py").is_file()
        assert (REPO / "tasks" / entry / "task_card.json").is_file()
