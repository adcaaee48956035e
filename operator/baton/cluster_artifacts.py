"""Keyed artifacts in the cluster: the latest version of each key in one ConfigMap.

Inside a Job the pod's files die with it, so the runtime swaps the local artifact store
for this one: ``Artifact.get(key)`` in any later run of the namespace reads what the
last run published under that key. The ConfigMaps have no owner (a keyed artifact
outlives the run that made it, as in Prefect) and are labelled
``baton.dev/artifact-key``; their names are derived from the key, so a key is one
object and a new version replaces the old one.

Like the cache's, these ConfigMaps are writable by every runner pod of the namespace:
what is read back is data (JSON), never code. A value larger than a ConfigMap holds is
cut, with the cut said in the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from baton import contract
from baton._kube.client import CONFIGMAPS, AlreadyExists, KubeClient, NotFound

logger = logging.getLogger("baton.artifacts")

LABELS = {**contract.MANAGED_BY, contract.LABEL_ARTIFACT_KEY: "true"}
#: ConfigMaps hold at most 1 MiB.
MAX_CONTENT = 900_000


def config_map_name(key: str) -> str:
    """The ConfigMap of ``key``'s latest version (keys are ``[a-z0-9-]+``)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"baton-artifact-{key[:200]}-{digest}"


class ConfigMapArtifactStore:
    """``ArtifactStore`` backed by ConfigMaps in one namespace (see the module docstring)."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def latest(self, key: str) -> dict[str, Any] | None:
        """Read the ConfigMap of ``key``; absent, unreadable or another key's: ``None``."""
        try:
            body = self._client.get(CONFIGMAPS, config_map_name(key), self._namespace)
        except NotFound:
            return None
        try:
            artifact = json.loads((body.get("data") or {}).get("artifact", ""))
        except ValueError:
            logger.warning("ignoring unreadable artifact ConfigMap %s", config_map_name(key))
            return None
        if not isinstance(artifact, dict) or artifact.get("key") != key:
            return None
        return artifact

    def put(self, artifact: dict[str, Any]) -> None:
        """Create or replace the ConfigMap of the artifact's key.

        Raises:
            ApiError: The API server refused (RBAC, quota) or is unreachable.
        """
        name = config_map_name(str(artifact["key"]))
        text = json.dumps(artifact, default=str)
        if len(text) > MAX_CONTENT:
            data = artifact.get("data")
            shown = data if isinstance(data, str) else json.dumps(data, default=str)
            cut = {**artifact, "data": shown[: MAX_CONTENT - 1000] + " … (truncated by Baton)"}
            text = json.dumps(cut, default=str)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self._namespace, "labels": LABELS},
            "data": {"artifact": text},
        }
        try:
            self._client.create(CONFIGMAPS, body, self._namespace)
        except AlreadyExists:
            self._client.patch(CONFIGMAPS, name, self._namespace, {"data": body["data"]})
