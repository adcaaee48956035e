"""Where cached task results live between runs.

The engine never touches storage directly: it asks ``get_cache_store()`` for a
``CacheStore`` and exchanges ``CacheRecord``s (already-serialised bytes plus
expiry) with it. Locally that is ``FileSystemCacheStore`` under
``$BATON_CACHE_DIR`` (default ``~/.baton/cache``); the in-cluster runtime calls
``set_cache_store()`` once with a store backed by ConfigMaps.

Serialisation happens here too (``serialize``/``deserialize``): pickle by
default, as Prefect does, or JSON when a task sets ``result_serializer="json"``.
A store that other identities can write (the cluster's ConfigMaps) says so with
``accepts_pickle = False``: ``storable_serializer`` then keeps plain JSON values
as JSON and does not cache the rest, since unpickling is running code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "CacheRecord",
    "CacheStore",
    "FileSystemCacheStore",
    "Serializer",
    "deserialize",
    "get_cache_store",
    "serialize",
    "set_cache_store",
    "storable_serializer",
]

Serializer = Literal["pickle", "json"]


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One cached result.

    Attributes:
        key: The cache key computed by the task's cache policy.
        payload: The serialised value.
        serializer: How ``payload`` was produced (``"pickle"`` or ``"json"``).
        created_at: When the value was stored.
        expires_at: After this instant the record is a miss; ``None``: never.
    """

    key: str
    payload: bytes
    serializer: Serializer
    created_at: datetime
    expires_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        """Whether the record has expired at ``now``."""
        return self.expires_at is not None and now >= self.expires_at


class CacheStore(Protocol):
    """Persistent storage for cached task results.

    A store may also have ``accepts_pickle: bool`` (absent: true): false when what it
    reads back may have been written by someone else, so a pickle from it is not safe.
    """

    def get(self, key: str, *, now: datetime) -> CacheRecord | None:
        """Return the record for ``key``, or ``None`` if absent or expired at ``now``."""
        ...

    def put(self, record: CacheRecord) -> None:
        """Store ``record``, replacing any record with the same key."""
        ...


class FileSystemCacheStore:
    """A cache store keeping one file per key in a directory.

    Each file holds one JSON header line (key, serializer, timestamps) followed
    by the payload bytes. Writes go to a temporary file renamed into place, so a
    reader never sees half a record.

    Args:
        directory: Where to keep records; created on first write.
    """

    #: The files are the user's own (their home directory): pickle is safe to read.
    accepts_pickle = True

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def _path(self, key: str) -> Path:
        # Keys are arbitrary user strings (cache_key_fn); hash them into file names.
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + ".cache")

    def get(self, key: str, *, now: datetime) -> CacheRecord | None:
        """Read the record for ``key``; a missing, expired or unreadable file is a miss."""
        try:
            raw = self._path(key).read_bytes()
            header_line, _, payload = raw.partition(b"\n")
            header = json.loads(header_line)
            expires = header["expires_at"]
            record = CacheRecord(
                key=header["key"],
                payload=payload,
                serializer=header["serializer"],
                created_at=datetime.fromisoformat(header["created_at"]),
                expires_at=datetime.fromisoformat(expires) if expires else None,
            )
        except (OSError, ValueError, KeyError):
            return None
        if record.key != key or record.is_expired(now):
            return None
        return record

    def put(self, record: CacheRecord) -> None:
        """Write ``record`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        header = {
            "key": record.key,
            "serializer": record.serializer,
            "created_at": record.created_at.isoformat(),
            "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        }
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(header).encode() + b"\n" + record.payload)
            os.replace(tmp, self._path(record.key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def default_cache_dir() -> Path:
    """Return ``$BATON_CACHE_DIR`` or ``~/.baton/cache``."""
    return Path(os.environ.get("BATON_CACHE_DIR") or "~/.baton/cache").expanduser()


_store: CacheStore | None = None
_store_lock = threading.Lock()


def get_cache_store() -> CacheStore:
    """Return the store the engine uses for cached results.

    Unless ``set_cache_store()`` installed one, a ``FileSystemCacheStore`` in
    ``default_cache_dir()`` (read at each call, so ``BATON_CACHE_DIR`` set after
    import takes effect).
    """
    store = _store
    if store is not None:
        return store
    return FileSystemCacheStore(default_cache_dir())


def set_cache_store(store: CacheStore | None) -> CacheStore | None:
    """Install ``store`` for every later task run (``None`` restores the default).

    Returns:
        The previously installed store.
    """
    global _store  # one process-wide seam for the runtime
    with _store_lock:
        previous, _store = _store, store
    return previous


def serialize(value: Any, serializer: Serializer) -> bytes:
    """Serialise ``value`` with ``serializer``."""
    if serializer == "json":
        return json.dumps(value).encode()
    return pickle.dumps(value)


def deserialize(payload: bytes, serializer: Serializer) -> Any:
    """Inverse of ``serialize``."""
    if serializer == "json":
        return json.loads(payload)
    return pickle.loads(payload)  # our own cache files


#: JSON values nested deeper than this are not treated as plain (and not cached as JSON).
_MAX_PLAIN_DEPTH = 64


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` comes back from a JSON round trip as exactly itself (types too)."""
    if depth > _MAX_PLAIN_DEPTH:
        return False
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain_json(v, depth + 1) for k, v in value.items())
    return False


def storable_serializer(value: Any, requested: Serializer, store: CacheStore) -> Serializer | None:
    """The serializer to cache ``value`` with in ``store``; ``None``: do not cache it.

    A store that does not accept pickle gets JSON for values that round-trip exactly
    (a list of dicts of numbers and strings stays one), and nothing for the rest.
    """
    if requested == "json" or getattr(store, "accepts_pickle", True):
        return requested
    return "json" if _is_plain_json(value) else None
