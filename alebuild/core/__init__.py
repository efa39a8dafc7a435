"""The engine's loading side: labels, rules, the kind registry, BUILD.toml loading, the graph.

Domain code (``rules/``, adapters) imports from here, never from the submodules' internals.
"""

from __future__ import annotations

from alebuild.core.errors import ActionFailure, CycleError, InfraError, UserError
from alebuild.core.graph import Graph, build_graph
from alebuild.core.labels import Label, LabelError, Pattern, parse_pattern
from alebuild.core.loader import Loader
from alebuild.core.registry import Registry
from alebuild.core.rule import (
    Blob,
    DepResult,
    File,
    LabelRef,
    Output,
    Rule,
    Spec,
    SrcRef,
    Tree,
    not_keyed,
)
from alebuild.core.target import Target
from alebuild.core.workspace import WorkspaceConfig, find_root, load_workspace_config

__all__ = [
    "Label",
    "LabelError",
    "Pattern",
    "parse_pattern",
    "Rule",
    "Spec",
    "LabelRef",
    "SrcRef",
    "not_keyed",
    "File",
    "Tree",
    "Blob",
    "Output",
    "DepResult",
    "Target",
    "Registry",
    "Loader",
    "Graph",
    "build_graph",
    "WorkspaceConfig",
    "find_root",
    "load_workspace_config",
    "UserError",
    "InfraError",
    "ActionFailure",
    "CycleError",
]
