"""ALE selected task lists: which ``<domain>/<task>`` packages (and variants) to run.

Two formats, chosen by file suffix:

- text (any suffix but ``.yaml``/``.yml``): one ``<domain>/<task>`` per line, ``#``
  comments (whole line or trailing) and blank lines allowed; variant 0.
- YAML: a list whose items are ``<domain>/<task>`` strings or ``{path, variants: [int]}``
  mappings. PyYAML is used when installed; otherwise a small parser reads the list forms
  shown in ``tests/unit/ale/test_ale_tasklists.py`` (block and flow mappings, flow and
  block variant lists).

A leading ``tasks/`` (``tasks/<domain>/<task>``) and a trailing ``/`` are tolerated.
A task listed twice keeps its first position; their variants are merged.
Errors are ``UserError`` with the list file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alebuild.core.errors import UserError

__all__ = ["TaskRef", "check_task_refs", "parse_task_list"]

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_TASK_RE = re.compile(rf"^{_SEGMENT}/{_SEGMENT}$")


@dataclass(frozen=True)
class TaskRef:
    """One entry of a task list: ``task`` is ``<domain>/<task>``."""

    task: str
    variants: tuple[int, ...] = (0,)
    line: int = 0
    file: str = ""

    @property
    def domain(self) -> str:
        return self.task.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.task.split("/", 1)[1]


def _task_name(entry: str, file: str, line: int) -> str:
    name = entry.strip().rstrip("/")
    if name.startswith("tasks/") and name.count("/") == 2:
        name = name[len("tasks/") :]
    if not _TASK_RE.match(name):
        raise UserError(
            f"malformed task reference {entry!r}",
            file=file,
            line=line,
            hint="expected '<domain>/<task>'",
        )
    return name


def _variants(value: Any, file: str, line: int) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise UserError(f"variants must be a list of integers, got {value!r}", file=file, line=line)
    if any(v < 0 for v in items):
        raise UserError(f"variant indexes must be >= 0, got {value!r}", file=file, line=line)
    return tuple(dict.fromkeys(items))


def _ref_from_item(item: Any, file: str, line: int) -> TaskRef:
    if isinstance(item, str):
        return TaskRef(_task_name(item, file, line), (0,), line, file)
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"path", "variants"})
        if unknown:
            raise UserError(
                f"unknown key(s) {unknown}",
                file=file,
                line=line,
                hint="an item has 'path' and optional 'variants'",
            )
        if not isinstance(item.get("path"), str):
            raise UserError("item needs a 'path' string", file=file, line=line)
        variants = _variants(item["variants"], file, line) if "variants" in item else (0,)
        return TaskRef(_task_name(item["path"], file, line), variants, line, file)
    raise UserError(f"unexpected list item {item!r}", file=file, line=line)


def _merge(refs: Iterable[TaskRef]) -> list[TaskRef]:
    merged: dict[str, TaskRef] = {}
    for ref in refs:
        first = merged.get(ref.task)
        if first is None:
            merged[ref.task] = ref
        else:
            variants = tuple(dict.fromkeys(first.variants + ref.variants))
            merged[ref.task] = TaskRef(first.task, variants, first.line, first.file)
    return list(merged.values())


def _text_items(text: str) -> list[tuple[Any, int]]:
    items = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if entry:
            items.append((entry, lineno))
    return items


# --- YAML --------------------------------------------------------------------------------


def _yaml_items(text: str, file: str) -> list[tuple[Any, int]]:
    """Top-level list items with their 1-based lines."""
    try:
        import yaml
    except ImportError:
        return _subset_yaml_items(text, file)
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return []
            if not isinstance(root, yaml.SequenceNode):
                raise UserError(
                    "a YAML task list must be a list", file=file, line=root.start_mark.line + 1
                )
            return [
                (loader.construct_object(n, deep=True), n.start_mark.line + 1) for n in root.value
            ]
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(
            f"invalid YAML: {exc}", file=file, line=mark.line + 1 if mark else None
        ) from exc


def _scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _split_top(text: str) -> list[str]:
    """Split on commas not inside brackets or braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _value(text: str, file: str, line: int) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(p) for p in _split_top(text[1:-1])]
    if text.startswith("{") and text.endswith("}"):
        mapping = {}
        for part in _split_top(text[1:-1]):
            key, sep, val = part.partition(":")
            if not sep:
                raise UserError(f"expected 'key: value' in {text!r}", file=file, line=line)
            mapping[key.strip()] = _value(val, file, line)
        return mapping
    if text[:1] in "[{":
        raise UserError(f"unsupported YAML value {text!r}", file=file, line=line)
    return _scalar(text)


_KEY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(?:\s+(.*))?$")


def _subset_yaml_items(text: str, file: str) -> list[tuple[Any, int]]:
    """The list forms task lists use, for machines without PyYAML."""
    items: list[tuple[Any, int]] = []
    base: int | None = None
    pending: str | None = None  # a key whose value is a block list below it
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        body = line.strip()
        if not body or body in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip())
        if base is None:
            base = indent
        if indent == base:
            if not (body == "-" or body.startswith("- ")):
                raise UserError("a YAML task list must be a list of items", file=file, line=lineno)
            rest, pending = body[1:].strip(), None
            key = _KEY_RE.match(rest)
            if key and not rest.startswith(("{", "[", "'", '"')):
                items.append(({}, lineno))
                pending = _set_key(items[-1][0], key, file, lineno)
            else:
                items.append((_value(rest, file, lineno), lineno))
            continue
        current = items[-1][0] if items else None
        key = _KEY_RE.match(body)
        if indent > base and isinstance(current, dict) and pending and body.startswith("- "):
            current[pending].append(_scalar(body[2:]))
        elif indent > base and isinstance(current, dict) and key:
            pending = _set_key(current, key, file, lineno)
        else:
            raise UserError(f"unsupported YAML line {body!r}", file=file, line=lineno)
    return items


def _set_key(mapping: dict[str, Any], key: re.Match[str], file: str, line: int) -> str | None:
    """Store ``key: value``; returns the key when its value is a block list to come."""
    name, value = key.group(1), key.group(2)
    if value is None or not value.strip():
        mapping[name] = []
        return name
    mapping[name] = _value(value, file, line)
    return None


def parse_task_list(path: Path, *, display: str | None = None) -> list[TaskRef]:
    """Parse a task list file; ``display`` names it in errors (default ``str(path)``)."""
    file = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read task list: {exc}", file=file) from exc
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        items = _yaml_items(text, file)
    else:
        items = _text_items(text)
    return _merge(_ref_from_item(item, file, line) for item, line in items)


def check_task_refs(refs: Iterable[TaskRef], tasks_root: Path) -> None:
    """``UserError`` at the first ref whose ``tasks_root/<domain>/<task>/main.py`` is missing."""
    root = Path(tasks_root)
    missing = [ref for ref in refs if not (root / ref.domain / ref.name / "main.py").is_file()]
    if missing:
        ref = missing[0]
        more = f"{len(missing) - 1} more missing" if len(missing) > 1 else None
        raise UserError(
            f"no task package '{ref.task}' ({root.name}/{ref.task}/main.py not found)",
            file=ref.file or None,
            line=ref.line or None,
            hint=more,
        )
