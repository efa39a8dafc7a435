"""The target graph: the transitive closure of some root labels over ``Target.deps``.

Built iteratively (no recursion, so 15,000+ node graphs are fine). The topological order is
computed once at build time, which is also where a dependency cycle is detected and
reported as a ``CycleError`` listing the cycle, first label repeated at the end.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Protocol

from alebuild.core.errors import CycleError
from alebuild.core.labels import Label
from alebuild.core.target import Target

__all__ = ["Graph", "build_graph"]


class _TargetSource(Protocol):
    def target(self, label: Label) -> Target: ...
    def dependency(self, target: Target, label: Label) -> Target: ...


class Graph:
    """Targets reachable from ``roots``; ``deps`` maps each label to its direct dependencies."""

    def __init__(
        self,
        targets: dict[Label, Target],
        roots: Iterable[Label],
    ) -> None:
        self.targets = targets
        self.roots = tuple(roots)
        self.deps: dict[Label, tuple[Label, ...]] = {lb: t.deps for lb, t in targets.items()}
        self._rdeps: dict[Label, list[Label]] = {lb: [] for lb in targets}
        for lb, ds in self.deps.items():
            for d in ds:
                self._rdeps[d].append(lb)
        self._order = self._toposort()

    def rdeps(self, label: Label) -> tuple[Label, ...]:
        """Direct dependents of ``label`` within this graph, sorted."""
        return tuple(sorted(self._rdeps[label]))

    def topo_order(self) -> list[Label]:
        """Every label, dependencies first; among ready labels the smallest comes first."""
        return list(self._order)

    def reachable(self, starts: Iterable[Label], *, reverse: bool = False) -> set[Label]:
        """``starts`` plus everything they depend on (or, with ``reverse``, that depends on them)."""
        edges = self._rdeps if reverse else self.deps
        seen = set(starts)
        stack = list(seen)
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def _toposort(self) -> list[Label]:
        # Kahn's algorithm with a heap keyed by (package, name): deterministic, and string
        # tuples compare much faster than Label dataclasses.
        pending = {lb: len(ds) for lb, ds in self.deps.items()}
        heap = [(lb.package, lb.name, lb) for lb, n in pending.items() if n == 0]
        heapq.heapify(heap)
        order: list[Label] = []
        while heap:
            lb = heapq.heappop(heap)[2]
            order.append(lb)
            for dependent in self._rdeps[lb]:
                pending[dependent] -= 1
                if pending[dependent] == 0:
                    heapq.heappush(heap, (dependent.package, dependent.name, dependent))
        if len(order) < len(pending):
            done = set(order)
            raise CycleError(self._find_cycle({lb for lb in pending if lb not in done}))
        return order

    def _find_cycle(self, remaining: set[Label]) -> list[str]:
        # Every remaining label still waits on a remaining dependency, so following the
        # smallest such dependency must revisit a label: that stretch is a cycle.
        path: list[Label] = []
        index: dict[Label, int] = {}
        node = min(remaining)
        while node not in index:
            index[node] = len(path)
            path.append(node)
            node = min(d for d in self.deps[node] if d in remaining)
        cycle = path[index[node] :]
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        return [str(lb) for lb in (*cycle, cycle[0])]


def build_graph(loader: _TargetSource, roots: Iterable[Label]) -> Graph:
    """The graph of ``roots`` and everything they transitively depend on.

    A missing dependency is a UserError at the referring target's field (see
    ``Loader.dependency``); a cycle is a ``CycleError``.
    """
    roots = list(dict.fromkeys(roots))
    targets: dict[Label, Target] = {}
    stack: list[Target] = []
    for label in roots:
        if label not in targets:
            targets[label] = loader.target(label)
            stack.append(targets[label])
    while stack:
        target = stack.pop()
        for dep in target.deps:
            if dep not in targets:
                found = targets[dep] = loader.dependency(target, dep)
                stack.append(found)
    return Graph(targets, roots)
