"""The built-in remote stores, by URL scheme.

Built-in stores register like outside ones: each line here is also an entry point in
the ``alebuild.stores`` group of pyproject.toml, which is what ``open_store`` reads.
This table exists so tests can check the two agree and so tools can list the schemes
without loading an SDK.
"""

from __future__ import annotations

__all__ = ["STORES"]

STORES: dict[str, str] = {
    "gs": "alebuild.stores.gcs:GcsStore",
    "s3": "alebuild.stores.s3:S3Store",
}
