"""The task source text that goes into keys, read the same way on every machine.

A checkout on Windows may hold ``main.py`` with CRLF line ends or a UTF-8 BOM; neither
changes what the code does, so neither may change a key. The agent-run key covers
``run_source`` + ``run_helpers`` (the grader excluded); the grade key covers
``grade_source`` + ``grade_helpers`` + ``scorer_scripts``. Everything here returns text or
paths: callers hash.
"""

from __future__ import annotations

import ast
import marshal
import os
from pathlib import Path

import xxhash

from alebuild.core.errors import UserError

__all__ = [
    "grade_helpers",
    "grade_source",
    "helper_closure",
    "normalize_text",
    "read_text_normalized",
    "run_helpers",
    "run_source",
    "scorer_scripts",
    "workspace_imports",
]


def normalize_text(text: str) -> str:
    """Line ends to ``\\n`` (CRLF and lone CR) and a leading BOM dropped."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_normalized(path: Path) -> str:
    """The file's text, UTF-8 decoded and normalised; ``UserError`` if unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read source: {exc}", file=str(path)) from exc
    try:
        return normalize_text(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text: {exc}", file=str(path)) from exc


# --- which code a key covers -------------------------------------------------------------

_EVALUATE_DECORATOR = "evaluate_task"


def _decorator_name(node: ast.expr) -> str | None:
    """``evaluate_task`` for ``@cb.evaluate_task(...)``, ``@evaluate_task``, and so on."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _parse(py_text: str, filename: str) -> ast.Module:
    try:
        return ast.parse(normalize_text(py_text), filename=filename)
    except SyntaxError as exc:
        raise UserError(f"syntax error: {exc.msg}", file=filename, line=exc.lineno) from exc


def _without_evaluate(tree: ast.Module) -> ast.Module:
    functions = [
        node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    graders = [
        fn
        for fn in functions
        if any(_decorator_name(d) == _EVALUATE_DECORATOR for d in fn.decorator_list)
    ]
    if not graders:
        graders = [fn for fn in functions if fn.name == "evaluate"]
    drop = {id(fn) for fn in graders}
    tree.body = [node for node in tree.body if id(node) not in drop]
    return tree


def run_source(main_py_text: str, *, filename: str = "main.py") -> str:
    """``main.py`` as the agent run sees it: the grader removed, normalised by ``ast.unparse``.

    Removed: every top-level function decorated ``evaluate_task`` (any spelling), or, when
    none is, the one named ``evaluate``. Editing the grader, or reformatting anything, never
    changes the result. ``ast.unparse`` drops comments (docstrings stay), so a comment-only
    edit does not change a key either.
    """
    return ast.unparse(_without_evaluate(_parse(main_py_text, filename)))


def grade_source(main_py_text: str, *, filename: str = "main.py") -> str:
    """The whole module normalised by ``ast.unparse`` (comments dropped)."""
    return ast.unparse(_parse(main_py_text, filename))


def _module_file(root: Path, parts: list[str]) -> Path | None:
    """``root/a/b.py`` or ``root/a/b/__init__.py`` for module ``a.b``, if either exists."""
    if not parts:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_name(parts[-1] + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _files_for_module(root: Path, parts: list[str]) -> list[Path]:
    """Files executed by importing ``a.b.c``: each package ``__init__`` and the module."""
    found = []
    for end in range(1, len(parts) + 1):
        hit = _module_file(root, parts[:end])
        if hit is not None:
            found.append(hit)
    return found


def _importer_package(root: Path, importer_path: Path) -> list[str] | None:
    try:
        rel = importer_path.parent.relative_to(root)
    except ValueError:
        return None
    return list(rel.parts)


def _import_records(py_text: str, filename: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """The import statements of a module as (level, module, names); level -1 = ``import m``.

    Parsing is the costly part of finding helpers, so records are memoised by the text's
    digest (content-keyed: never stale) and can be persisted with ``ImportIndex``.
    """
    digest = xxhash.xxh3_128_hexdigest(py_text.encode("utf-8"))
    hit = _RECORDS.get(digest)
    if hit is not None:
        return hit
    records: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(_parse(py_text, filename)):
        if isinstance(node, ast.Import):
            records.extend((-1, alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            records.append((node.level, node.module or "", tuple(a.name for a in node.names)))
    _RECORDS[digest] = records
    _INDEX.dirty = True
    return records


def _imports_of(records: list[tuple[int, str, tuple[str, ...]]], root: Path, importer_path: Path) -> set[Path]:
    found: set[Path] = set()
    for level, name, names in records:
        if level == -1:
            found.update(_files_for_module(root, name.split(".")))
            continue
        if level:
            package = _importer_package(root, importer_path)
            if package is None or level - 1 > len(package):
                continue
            base = package[: len(package) - (level - 1)]
        else:
            base = []
        module = base + (name.split(".") if name else [])
        found.update(_files_for_module(root, module))
        for alias in names:
            if alias != "*":
                hit = _module_file(root, module + [alias])
                if hit is not None:
                    found.add(hit)
    return found


class ImportIndex:
    """Persists the memoised import records between processes (a marshal file)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.dirty = False

    def attach(self, path: Path) -> None:
        if self.path == path:
            return
        self.path = path
        try:
            loaded = marshal.loads(path.read_bytes())
            if isinstance(loaded, dict):
                for k, v in loaded.items():
                    _RECORDS.setdefault(k, [tuple(r) for r in v])
        except (OSError, ValueError, EOFError, TypeError):
            pass

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_bytes(marshal.dumps({k: [list(r) for r in v] for k, v in _RECORDS.items()}))
        os.replace(tmp, self.path)
        self.dirty = False


_RECORDS: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
_INDEX = ImportIndex()


def import_index() -> ImportIndex:
    return _INDEX


def workspace_imports(py_text: str, workspace_root: Path, importer_path: Path) -> list[Path]:
    """Workspace files that ``py_text`` imports (anywhere, including inside functions).

    Absolute imports (``tasks.x.y``) and relative ones (resolved against the package of
    ``importer_path``) map to ``module.py`` or ``package/__init__.py`` under
    ``workspace_root``; ``from pkg import name`` adds ``pkg/name.py`` when ``name`` is a
    submodule. Anything not found under the root (stdlib, third party) is ignored.
    Returned as ``workspace_root / <relative path>``, sorted by relative path.
    """
    root, importer = Path(workspace_root).absolute(), Path(importer_path).absolute()
    records = _import_records(py_text, str(importer_path))
    return _sorted(root, _imports_of(records, root, importer))


def _sorted(root: Path, paths: set[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: p.relative_to(root).as_posix())


def _closure(start: set[Path], root: Path, exclude: Path) -> list[Path]:
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen or path == exclude:
            continue
        seen.add(path)
        todo.extend(workspace_imports(read_text_normalized(path), root, path))
    return _sorted(root, seen)


def helper_closure(main_py: Path, workspace_root: Path) -> list[Path]:
    """Every workspace file ``main.py`` imports, transitively; ``main.py`` itself excluded."""
    root, main_py = Path(workspace_root).absolute(), Path(main_py).absolute()
    direct = workspace_imports(read_text_normalized(main_py), root, main_py)
    return _closure(set(direct), root, main_py)


def grade_helpers(main_py: Path, workspace_root: Path) -> list[Path]:
    """The grader's helpers: the closure of the whole module (same as ``helper_closure``)."""
    return helper_closure(main_py, workspace_root)


def run_helpers(main_py: Path, workspace_root: Path) -> list[Path]:
    """Like ``helper_closure`` but starting from ``run_source(main.py)``.

    Imports made only inside the grader (a local import in ``evaluate``) do not count.
    """
    root, main_py = Path(workspace_root).absolute(), Path(main_py).absolute()
    text = run_source(read_text_normalized(main_py), filename=str(main_py))
    return _closure(set(workspace_imports(text, root, main_py)), root, main_py)


def scorer_scripts(task_dir: Path) -> list[Path]:
    """Files under ``task_dir/scripts/``, recursive, sorted; ``__pycache__`` skipped.

    Symlinked directories are not followed (they could leave the task folder).
    """
    scripts = Path(task_dir) / "scripts"
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(scripts):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        found.extend(Path(dirpath) / name for name in filenames)
    return sorted(found, key=lambda p: p.relative_to(scripts).as_posix())
