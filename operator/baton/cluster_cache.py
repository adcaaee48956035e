"""Task result cache in the cluster: one ConfigMap per cache key, namespace-scoped.

Inside a Job the local filesystem dies with the pod, so the runtime swaps the SDK's
cache store for this one. Records carry their expiry in an annotation; expired ones
are deleted when read and, in bulk, by ``delete_expired`` at the start of every run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from datetime import datetime

from baton._engine.cache_store import CacheRecord
from baton._kube.client import CONFIGMAPS, AlreadyExists, ApiError, KubeClient, NotFound

logger = logging.getLogger("baton.cache")

LABELS = {"app.kubernetes.io/managed-by": "baton", "baton.dev/cache": "true"}
EXPIRES = "baton.dev/expires-at"
CREATED = "baton.dev/created-at"
SERIALIZER = "baton.dev/serializer"
#: ConfigMaps hold at most 1 MiB; a larger value is simply not cached (logged).
MAX_PAYLOAD = 900_000


def config_map_name(key: str) -> str:
    return f"baton-cache-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


class ConfigMapCacheStore:
    """``CacheStore`` backed by ConfigMaps in one namespace."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def get(self, key: str, *, now: datetime) -> CacheRecord | None:
        name = config_map_name(key)
        try:
            body = self._client.get(CONFIGMAPS, name, self._namespace)
        except NotFound:
            return None
        except ApiError as error:
            logger.warning("cache read failed, treating as a miss: %s", error)
            return None
        annotations = body.get("metadata", {}).get("annotations") or {}
        expires = annotations.get(EXPIRES)
        record = CacheRecord(
            key=(body.get("data") or {}).get("key", ""),
            payload=base64.b64decode((body.get("binaryData") or {}).get("payload", "")),
            serializer="json" if annotations.get(SERIALIZER) == "json" else "pickle",
            created_at=datetime.fromisoformat(annotations.get(CREATED, now.isoformat())),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )
        if record.key != key:
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
        annotations = {CREATED: record.created_at.isoformat(), SERIALIZER: record.serializer}
        if record.expires_at:
            annotations[EXPIRES] = record.expires_at.isoformat()
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": config_map_name(record.key),
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
                config_map_name(record.key),
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
