"""Remote cache stores on cloud object storage: ``gs://`` (gcs.py) and ``s3://`` (s3.py).

These modules import cloud SDKs, so the engine never imports them: it finds them by URL
scheme through the ``alebuild.stores`` entry points (see ``alebuild.cache.remote``).
``registry.STORES`` lists the built-in ones, registered exactly like outside stores.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["parse_bucket_url"]


def parse_bucket_url(url: str, scheme: str) -> tuple[str, str]:
    """``scheme://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``.

    The prefix is empty or ends with ``/``, so object names are ``prefix + "cas/..."``.
    ``ValueError`` when the scheme differs or the bucket is missing.
    """
    parts = urlsplit(url)
    if parts.scheme != scheme or not parts.netloc:
        raise ValueError(f"expected {scheme}://bucket[/prefix], got {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, (prefix + "/" if prefix else "")
