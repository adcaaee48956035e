"""Where keyed artifacts live between runs, so ``Artifact.get(key)`` can read them back.

Prefect keeps every artifact in its database; Baton keeps the *latest version* of each
keyed artifact (what ``Artifact.get`` returns), in one of two stores behind one seam:

* ``FileArtifactStore`` locally: one JSON file per key in ``$BATON_ARTIFACT_DIR``
  (default ``~/.baton/artifacts``), written atomically;
* ``baton.cluster_artifacts.ConfigMapArtifactStore`` inside a pod, which the in-cluster
  runtime installs with ``set_artifact_store`` (as it installs the ConfigMap cache).

A store is only asked for keyed artifacts; unkeyed ones stay with their run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "ArtifactStore",
    "FileArtifactStore",
    "default_artifact_dir",
    "get_artifact_store",
    "set_artifact_store",
]


class ArtifactStore(Protocol):
    """Latest versions of keyed artifacts (the dicts described in ``baton.artifacts``)."""

    def latest(self, key: str) -> dict[str, Any] | None:
        """The latest version of the artifact with ``key``, or ``None``."""
        ...

    def put(self, artifact: dict[str, Any]) -> None:
        """Make ``artifact`` (which has a key) the latest version of its key."""
        ...


class FileArtifactStore:
    """One JSON file per key in ``directory`` (created on first write)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def latest(self, key: str) -> dict[str, Any] | None:
        """Read the file for ``key``; a missing or unreadable one is ``None``."""
        try:
            artifact = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(artifact, dict) or artifact.get("key") != key:
            return None
        return artifact

    def put(self, artifact: dict[str, Any]) -> None:
        """Write the artifact atomically (a reader sees the old or the new version)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(artifact, handle, default=str)
            os.replace(tmp, self._path(str(artifact["key"])))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def default_artifact_dir() -> Path:
    """Return ``$BATON_ARTIFACT_DIR`` or ``~/.baton/artifacts``."""
    return Path(os.environ.get("BATON_ARTIFACT_DIR") or "~/.baton/artifacts").expanduser()


_store: ArtifactStore | None = None


def get_artifact_store() -> ArtifactStore:
    """The installed store, else a ``FileArtifactStore`` in ``default_artifact_dir()``.

    The directory is read at each call, so ``BATON_ARTIFACT_DIR`` set later applies.
    """
    return _store if _store is not None else FileArtifactStore(default_artifact_dir())


def set_artifact_store(store: ArtifactStore | None) -> ArtifactStore | None:
    """Install ``store`` (``None``: back to the local files); return the previous one."""
    global _store
    previous, _store = _store, store
    return previous
