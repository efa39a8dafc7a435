"""A small query language over the target graph, and its renderers.

Expressions (nestable)::

    //pkg:name  //pkg/...  //pkg:all  :name     a label or pattern
    deps(X)                                      X and everything X depends on
    rdeps(U, X)                                  targets in the closure of U that depend on X,
                                                 transitively, including X itself
    kind(K, X)                                   targets of X whose kind matches regex K
                                                 (whole-name match; quote K if it has , or ( ))

``evaluate`` returns sorted labels; ``render`` prints them as text, JSON or Graphviz dot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from alebuild.core.errors import UserError
from alebuild.core.graph import Graph, build_graph
from alebuild.core.labels import Label
from alebuild.core.loader import Loader

__all__ = ["evaluate", "render", "FUNCTIONS"]

FUNCTIONS = {"deps": 1, "rdeps": 2, "kind": 2}
_TOKEN = re.compile(r"\s*(?:(\"[^\"]*\"|'[^']*')|([^\s(),\"']+)|([(),]))")


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Call | str, ...]


def _tokens(expr: str) -> list[str]:
    out: list[str] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise UserError(f"bad query {expr!r}: unexpected {expr[pos:].strip()[:20]!r}")
        out.append(m.group(m.lastindex or 0))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0

    def fail(self, why: str) -> UserError:
        return UserError(f"bad query {self.expr!r}: {why}")

    def take(self) -> str:
        if self.i >= len(self.toks):
            raise self.fail("unexpected end")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> _Call | str:
        node = self.node()
        if self.i != len(self.toks):
            raise self.fail(f"unexpected {self.toks[self.i]!r}")
        return node

    def node(self) -> _Call | str:
        tok = self.take()
        if tok in "(),":
            raise self.fail(f"unexpected {tok!r}")
        if tok[0] in "\"'":
            return tok[1:-1]
        if self.i < len(self.toks) and self.toks[self.i] == "(":
            self.i += 1
            if tok not in FUNCTIONS:
                raise self.fail(f"unknown function {tok!r}; known: {', '.join(FUNCTIONS)}")
            args = [self.node()]
            while (sep := self.take()) == ",":
                args.append(self.node())
            if sep != ")":
                raise self.fail(f"expected ',' or ')' after an argument of {tok}(), got {sep!r}")
            if len(args) != FUNCTIONS[tok]:
                raise self.fail(f"{tok}() takes {FUNCTIONS[tok]} argument(s), got {len(args)}")
            return _Call(tok, tuple(args))
        return tok


def _eval(node: _Call | str, loader: Loader, current_package: str) -> set[Label]:
    if isinstance(node, str):
        return set(loader.resolve([node], current_package))
    args = node.args
    if node.name == "deps":
        roots = _eval(args[0], loader, current_package)
        return set(build_graph(loader, sorted(roots)).targets)
    if node.name == "rdeps":
        universe = build_graph(loader, sorted(_eval(args[0], loader, current_package)))
        starts = _eval(args[1], loader, current_package) & universe.targets.keys()
        return universe.reachable(starts, reverse=True)
    # kind(K, X)
    if not isinstance(args[0], str):
        raise UserError(f"kind(): the first argument must be a kind pattern, not {args[0].name}()")
    try:
        pattern = re.compile(args[0])
    except re.error as exc:
        raise UserError(f"kind(): bad pattern {args[0]!r}: {exc}") from None
    labels = _eval(args[1], loader, current_package)
    return {lb for lb in labels if pattern.fullmatch(loader.target(lb).kind)}


def evaluate(expr: str, loader: Loader, current_package: str = "") -> list[Label]:
    """The sorted labels ``expr`` denotes. Bad syntax or unknown targets are UserErrors."""
    if not expr.strip():
        raise UserError("empty query")
    return sorted(_eval(_Parser(expr).parse(), loader, current_package))


def render(labels: list[Label], graph: Graph, fmt: Literal["text", "json", "dot"] = "text") -> str:
    """``labels`` as lines of text, a JSON list of {label, kind, deps}, or a dot digraph.

    ``graph`` must contain every label (e.g. ``build_graph(loader, labels)``); dot edges are
    drawn between rendered labels only.
    """
    if fmt == "text":
        return "".join(f"{lb}\n" for lb in labels)
    if fmt == "json":
        rows = [
            {
                "label": str(lb),
                "kind": graph.targets[lb].kind,
                "deps": [str(d) for d in graph.deps[lb]],
            }
            for lb in labels
        ]
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "dot":
        shown = set(labels)
        lines = ["digraph alebuild {"]
        for lb in labels:
            lines.append(f'  "{lb}" [label="{lb}\\n{graph.targets[lb].kind}"];')
        for lb in labels:
            lines.extend(f'  "{lb}" -> "{d}";' for d in graph.deps[lb] if d in shown)
        lines.append("}")
        return "\n".join(lines) + "\n"
    raise UserError(f"unknown output format {fmt!r}; use text, json or dot")
