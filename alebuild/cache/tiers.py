"""Remote tiers behind the local cache: read local first, then each remote; write after success.

- ``lookup(key)``: fetch an action entry from the first remote that has it *and* every blob
  it names (trees walked; every download verified). The entry and blobs land in the local
  cache, so the next lookup is local. A blob that fails verification is never used: the
  next store is tried, else it is a miss and the action runs.
- ``publish(record, private)``: upload the entry's blobs, then the entry (create-only), to
  every writable remote the record may go to: private records go only to private stores.
  A remote marks what it received in the local action cache, so a later build uploads
  whatever an earlier one could not (a remote that was down).
- A store that fails (``RemoteError``) gives one warning and is skipped for the rest of the
  build; a down remote never fails a build.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from alebuild.cache.action_cache import ActionCache, ActionRecord
from alebuild.cache.cas import LocalCAS
from alebuild.cache.remote import RemoteCorrupt, RemoteError, RemoteStore
from alebuild.cache.tree import parse_tree_object

__all__ = ["RemoteTiers"]

# A reserved action name holding the store's identity (no real key is all zeros).
_EPOCH_KEY = "xxh128:" + "0" * 32


class RemoteTiers:
    def __init__(
        self,
        stores: Iterable[tuple[RemoteStore, bool, bool]],
        cas: LocalCAS,
        ac: ActionCache,
        warn: Callable[[str], None],
    ) -> None:
        """``stores``: (store, read, write) in read order."""
        self.stores = list(stores)
        self.cas = cas
        self.ac = ac
        self._warn = warn
        self._down: set[str] = set()
        self._epochs: dict[str, str] = {}
        self._lock = threading.Lock()
        self.uploaded = 0
        self.downloaded = 0

    # -- failure handling --------------------------------------------------------------------
    def _fail(self, store: RemoteStore, exc: Exception) -> None:
        with self._lock:
            if store.url in self._down:
                return
            self._down.add(store.url)
        self._warn(f"remote {store.url} unavailable, building locally: {exc}")

    def _live(self, read: bool | None = None, write: bool | None = None) -> list[RemoteStore]:
        return [
            s for s, r, w in self.stores
            if s.url not in self._down and (read is None or r == read) and (write is None or w == write)
        ]

    # -- reads -----------------------------------------------------------------------------
    def lookup(self, key: str) -> ActionRecord | None:
        for store in self._live(read=True):
            try:
                data = store.get_action(key)
                if data is None:
                    continue
                record = ActionRecord.from_json(data)
                if record.key != key:
                    continue  # a misplaced entry is not evidence of anything
                if all(self._fetch(store, d) for d in record.outputs.values()):
                    self.ac.put(record)
                    self._mark(store, key)
                    return record
                # The entry names blobs the store no longer has (a remote GC, a lost object):
                # drop it, or create-only writes would keep this dead entry forever.
                if self._writable(store):
                    store.delete_action(key)
            except RemoteCorrupt as exc:
                self._warn(f"remote {store.url}: {exc}; not used")
            except RemoteError as exc:
                self._fail(store, exc)
        return None

    def fetch_blob(self, digest: str) -> bool:
        """Bring one blob (a tree: all of it) into the local CAS from any readable remote."""
        if self.cas.has_all(digest):
            return True
        for store in self._live(read=True):
            try:
                if self._fetch(store, digest):
                    return True
            except RemoteCorrupt as exc:
                self._warn(f"remote {store.url}: {exc}; not used")
            except RemoteError as exc:
                self._fail(store, exc)
        return False

    def _fetch(self, store: RemoteStore, digest: str) -> bool:
        if not self.cas.has(digest):
            self.cas.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.cas.root) as tmp:
                dest = Path(tmp) / "blob"
                try:
                    found = store.get_blob(digest, dest)
                except RemoteCorrupt:
                    self._evict(store, digest)
                    raise
                if not found:
                    return False
                self.cas.put_file(dest, digest=digest)
                self.downloaded += 1
        if self.cas.is_tree(digest):
            for _name, kind, _mode, ref in parse_tree_object(self.cas.read_bytes(digest)):
                if kind in ("file", "dir") and not self._fetch(store, ref):
                    return False
        return True

    def _evict(self, store: RemoteStore, digest: str) -> None:
        # Bytes that do not match their name are garbage to every reader; deleting them lets
        # the next publish store the real bytes (create-only writes would keep them forever).
        if not self._writable(store):
            return
        try:
            store.delete_blob(digest)
        except RemoteError:
            pass  # the caller's warning already says the blob was not used

    # -- writes ----------------------------------------------------------------------------
    def _writable(self, store: RemoteStore) -> bool:
        return any(s is store and w for s, _r, w in self.stores)

    def _epoch(self, store: RemoteStore) -> str:
        """The store's identity: a random id kept in the store itself (made on first use).

        "Published" marks are scoped to it, so a store that was wiped or replaced (a new
        bucket, an emulator restarted empty) gets everything uploaded again.
        """
        epoch = self._epochs.get(store.url)
        if epoch is None:
            data = store.get_action(_EPOCH_KEY)
            if data is None:
                store.put_action(_EPOCH_KEY, secrets.token_hex(16).encode())
                data = store.get_action(_EPOCH_KEY) or b""
            epoch = self._epochs[store.url] = data.decode(errors="replace")
        return epoch

    def _marker(self, store: RemoteStore, key: str) -> str:
        return f"published:{store.url}:{self._epoch(store)}:{key}"

    def _mark(self, store: RemoteStore, key: str) -> None:
        if self._writable(store):  # marks steer publishing; a read-only store is never written
            self.ac.mark(self._marker(store, key))

    def needs_publish(self, key: str, private: bool) -> bool:
        for store in self._targets(private):
            try:
                if not self.ac.marked(self._marker(store, key)):
                    return True
            except RemoteError as exc:
                self._fail(store, exc)
        return False

    def _targets(self, private: bool) -> list[RemoteStore]:
        return [s for s in self._live(write=True) if s.visibility == "private" or not private]

    def publish(self, record: ActionRecord, private: bool) -> None:
        if not record.keyfile:  # local hits come back without it (stored apart)
            record = dataclasses.replace(record, keyfile=self.ac.keyfile(record.key) or {})
        for store in self._targets(private):
            try:
                if self.ac.marked(self._marker(store, record.key)):
                    continue
                for digest in record.outputs.values():
                    self._push(store, digest)
                store.put_action(record.key, record.to_json().encode())
                self._mark(store, record.key)
            except RemoteError as exc:
                self._fail(store, exc)

    def _push(self, store: RemoteStore, digest: str) -> None:
        if self.cas.is_tree(digest):
            for _name, kind, _mode, ref in parse_tree_object(self.cas.read_bytes(digest)):
                if kind in ("file", "dir"):
                    self._push(store, ref)
        if store.has_blob(digest):
            return
        if store.put_blob(digest, self.cas.path_of(digest)):
            self.uploaded += 1
