"""Local storage layer of the engine: digests, stat cache, Merkle trees, CAS, action cache, gc.

Imports nothing from rules/, sandboxes, ALE adapters or cloud SDKs (import-linter contract).
"""

from __future__ import annotations

from alebuild.cache.action_cache import ActionCache, ActionRecord
from alebuild.cache.cas import CorruptBlobError, LocalCAS, MissingBlobError, VerifyReport
from alebuild.cache.digest import (
    ALGORITHMS,
    UnhashableError,
    algo_of,
    canonical_json,
    digest_bytes,
    digest_json,
    digest_stream,
    file_digest,
    new_hasher,
    parse_digest,
)
from alebuild.cache.gc import GcReport, gc, parse_size, reachable
from alebuild.cache.statcache import StatCache, hash_file
from alebuild.cache.tree import (
    TreeResult,
    TreeTooLarge,
    hash_tree,
    is_tree_object,
    parse_tree_object,
)

__all__ = [
    "ALGORITHMS",
    "ActionCache",
    "ActionRecord",
    "CorruptBlobError",
    "GcReport",
    "LocalCAS",
    "MissingBlobError",
    "StatCache",
    "TreeResult",
    "TreeTooLarge",
    "UnhashableError",
    "VerifyReport",
    "algo_of",
    "canonical_json",
    "digest_bytes",
    "digest_json",
    "digest_stream",
    "file_digest",
    "gc",
    "hash_file",
    "hash_tree",
    "is_tree_object",
    "new_hasher",
    "parse_digest",
    "parse_size",
    "parse_tree_object",
    "reachable",
]
