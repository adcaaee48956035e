"""Task result cache in the cluster: one ConfigMap per cache key, namespace-scoped.

Inside a Job the local filesystem dies with the pod, so the runtime swaps the SDK's
cache store for this one. Records carry their expiry in an annotation; expired ones
are deleted when read and, in bulk, by ``delete_expired`` at the start of every run.

Every runner pod of the namespace may write these ConfigMaps, so what is read back is
untrusted: unpickling it would run whatever another flow planted. Two rules follow.

* **Without an integrity key** the store keeps JSON only (``accepts_pickle`` is false:
  the engine caches plain JSON values as JSON and does not cache the rest) and refuses
  to read a record that is not JSON. JSON is data; the worst a planted record does is
  supply a wrong value of a JSON type.
* **With a key** (``BATON_CACHE_KEY``, which the WorkPool owner gives the pods of one
  identity from a Secret, or a process worker's environment), records are signed with
  HMAC-SHA256 over everything read back and live under names derived from the key, so
  each identity has its own cache; a record whose signature does not verify is
  refused, pickle included. The key never leaves the process: not in the ConfigMap,
  not in a log line.

A refused record is a cache miss with a warning naming it; the task runs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
from datetime import datetime

from baton import contract
from baton._engine.cache_store import CacheRecord
from baton._kube.client import CONFIGMAPS, AlreadyExists, ApiError, KubeClient, NotFound

logger = logging.getLogger("baton.cache")

LABELS = {**contract.MANAGED_BY, contract.LABEL_CACHE: "true"}
EXPIRES = contract.ANNOTATION_CACHE_EXPIRES
CREATED = contract.ANNOTATION_CACHE_CREATED
SERIALIZER = contract.ANNOTATION_CACHE_SERIALIZER
SIGNATURE = contract.ANNOTATION_CACHE_SIGNATURE
#: The environment variable holding an identity's cache integrity key.
KEY_ENV = "BATON_CACHE_KEY"
#: ConfigMaps hold at most 1 MiB; a larger value is simply not cached (logged).
MAX_PAYLOAD = 900_000


def config_map_name(key: str, scope: str = "") -> str:
    """The record's name; ``scope`` (from the integrity key) separates identities."""
    return f"baton-cache-{hashlib.sha256((scope + key).encode()).hexdigest()[:40]}"


def integrity_key_from_env(env: dict[str, str] | None = None) -> bytes | None:
    value = (env if env is not None else os.environ).get(KEY_ENV, "")
    return value.encode() if value else None


class ConfigMapCacheStore:
    """``CacheStore`` backed by ConfigMaps in one namespace (see the module docstring)."""

    def __init__(
        self, client: KubeClient, namespace: str, *, integrity_key: bytes | None = None
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._key = integrity_key
        self._scope = (
            hmac.new(integrity_key, b"baton-cache-scope", hashlib.sha256).hexdigest()[:16]
            if integrity_key
            else ""
        )

    @property
    def accepts_pickle(self) -> bool:
        return self._key is not None

    def _name(self, key: str) -> str:
        return config_map_name(key, self._scope)

    def _signature(self, name: str, record: CacheRecord, annotations: dict[str, str]) -> str:
        assert self._key is not None
        signed = [
            name,
            record.key,
            record.serializer,
            annotations.get(CREATED, ""),
            annotations.get(EXPIRES, ""),
        ]
        message = "\0".join(signed).encode() + b"\0" + record.payload
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _refusal(self, name: str, record: CacheRecord, annotations: dict[str, str]) -> str | None:
        """Why the record must not be used, or None when it may be."""
        if self._key is None:
            if record.serializer != "json":
                return (
                    f"it is a {record.serializer} record and this run has no cache integrity "
                    f"key ({KEY_ENV}): only JSON is read from a cache other identities can write"
                )
            return None
        if not hmac.compare_digest(
            annotations.get(SIGNATURE, ""), self._signature(name, record, annotations)
        ):
            return "its signature does not match this identity's cache key"
        return None

    def get(self, key: str, *, now: datetime) -> CacheRecord | None:
        name = self._name(key)
        try:
            body = self._client.get(CONFIGMAPS, name, self._namespace)
        except NotFound:
            return None
        except ApiError as error:
            logger.warning("cache read failed, treating as a miss: %s", error)
            return None
        annotations = body.get("metadata", {}).get("annotations") or {}
        expires = annotations.get(EXPIRES)
        try:
            record = CacheRecord(
                key=(body.get("data") or {}).get("key", ""),
                payload=base64.b64decode((body.get("binaryData") or {}).get("payload", "")),
                serializer="json" if annotations.get(SERIALIZER) == "json" else "pickle",
                created_at=datetime.fromisoformat(annotations.get(CREATED, now.isoformat())),
                expires_at=datetime.fromisoformat(expires) if expires else None,
            )
        except (ValueError, TypeError) as error:
            logger.warning(
                "refusing task cache entry %s: unreadable (%s); the task runs", name, error
            )
            return None
        if record.key != key:
            return None
        refusal = self._refusal(name, record, annotations)
        if refusal:
            logger.warning("refusing task cache entry %s: %s; the task runs", name, refusal)
            return None
        if record.is_expired(now):
            self._delete(name)
            return None
        return record

    def put(self, record: CacheRecord) -> None:
        if len(record.payload) > MAX_PAYLOAD:
            logger.warning(
                "cache value for %s is %d bytes; too large to cache in a ConfigMap",
                record.key[:60],
                len(record.payload),
            )
            return
        if record.serializer != "json" and self._key is None:
            logger.warning(
                "not caching a %s record without a cache integrity key (%s)",
                record.serializer,
                KEY_ENV,
            )
            return
        name = self._name(record.key)
        annotations = {CREATED: record.created_at.isoformat(), SERIALIZER: record.serializer}
        if record.expires_at:
            annotations[EXPIRES] = record.expires_at.isoformat()
        if self._key is not None:
            annotations[SIGNATURE] = self._signature(name, record, annotations)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "labels": LABELS,
                "annotations": annotations,
            },
            "data": {"key": record.key},
            "binaryData": {"payload": base64.b64encode(record.payload).decode()},
        }
        try:
            self._client.create(CONFIGMAPS, body, self._namespace)
        except AlreadyExists:
            self._client.patch(
                CONFIGMAPS,
                name,
                self._namespace,
                {
                    "metadata": {"annotations": annotations},
                    "data": body["data"],
                    "binaryData": body["binaryData"],
                },
            )

    def delete_expired(self, *, now: datetime) -> int:
        """Delete every expired record in the namespace; return how many."""
        selector = ",".join(f"{k}={v}" for k, v in LABELS.items())
        try:
            items = self._client.list(CONFIGMAPS, self._namespace, label_selector=selector)
        except Exception as error:  # refused or unreachable: cleanup must not stop the run
            logger.warning("cache cleanup skipped: %s", error)
            return 0
        deleted = 0
        for item in items:
            expires = (item["metadata"].get("annotations") or {}).get(EXPIRES)
            if expires and datetime.fromisoformat(expires) <= now:
                self._delete(item["metadata"]["name"])
                deleted += 1
        return deleted

    def _delete(self, name: str) -> None:
        with contextlib.suppress(Exception):  # best effort, like the cleanup
            self._client.delete(CONFIGMAPS, name, self._namespace)
