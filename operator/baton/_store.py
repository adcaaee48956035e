"""Where blocks and variables live for this process: a pod's mounts, a cluster, or a home.

One decision for both (``baton.blocks`` and ``baton.variables``), so a laptop, a process
worker and a flow pod agree on where a name resolves:

* **In a flow pod** the operator sets ``BATON_BLOCKS_DIR`` (controller/jobs.py): blocks
  come only from the files mounted there — the pod cannot read Secrets through the API.
  Variables use the API (the runner may read and write ConfigMaps).
* ``BATON_STORE=local`` forces the local store; ``BATON_STORE=cluster`` forces the
  cluster (and fails when no credentials are found).
* Otherwise the cluster of the user's kubeconfig (``$KUBECONFIG``, in-cluster, or
  ``~/.kube/config``) in its context's namespace — or ``BATON_FLOW_RUN_NAMESPACE`` in a
  process worker's run — and, with no cluster configured, the local store under
  ``$BATON_HOME`` (default ``~/.baton``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baton._kube.client import KubeClient

#: Set in every flow Job: where declared blocks are mounted (present or not).
BLOCKS_DIR_ENV = "BATON_BLOCKS_DIR"
STORE_ENV = "BATON_STORE"
HOME_ENV = "BATON_HOME"


class StoreError(RuntimeError):
    """No place to read or write blocks/variables, or the place refused."""


def baton_home() -> Path:
    """``$BATON_HOME``, else ``~/.baton`` (shared with the task cache and worker logs)."""
    return Path(os.environ.get(HOME_ENV) or "~/.baton").expanduser()


@dataclass(frozen=True)
class Cluster:
    client: KubeClient
    namespace: str


@dataclass(frozen=True)
class Local:
    home: Path


@dataclass(frozen=True)
class Mounted:
    directory: Path


def mounted_blocks() -> Mounted | None:
    """The pod's block mount when this process is a flow pod's runtime."""
    directory = os.environ.get(BLOCKS_DIR_ENV)
    return Mounted(Path(directory)) if directory else None


def cluster_or_local(
    *, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> Cluster | Local:
    """The cluster of the user's credentials, or the local store when there are none."""
    from baton._kube.config import ConfigError, load  # noqa: PLC0415

    wanted = os.environ.get(STORE_ENV, "").strip().lower()
    if wanted not in ("", "local", "cluster"):
        raise StoreError(f"{STORE_ENV} must be 'local' or 'cluster', not {wanted!r}")
    if wanted == "local":
        return Local(baton_home())
    try:
        credentials = load(kubeconfig, context)
    except ConfigError as error:
        if wanted == "cluster":
            raise StoreError(f"{STORE_ENV}=cluster but {error}") from error
        return Local(baton_home())
    from baton._kube.client import KubeClient  # noqa: PLC0415

    chosen = namespace or os.environ.get("BATON_FLOW_RUN_NAMESPACE") or credentials.namespace
    return Cluster(KubeClient(credentials), chosen)


@contextmanager
def variables_place() -> Iterator[Cluster | Local]:
    """Where this process keeps variables; a cluster client is closed on leaving."""
    place = cluster_or_local()
    try:
        yield place
    finally:
        if isinstance(place, Cluster):
            place.client.close()


@contextmanager
def blocks_place() -> Iterator[Mounted | Cluster | Local]:
    """Where this process reads blocks: a flow pod's mount, else as variables."""
    mounted = mounted_blocks()
    if mounted is not None:
        yield mounted
        return
    with variables_place() as place:
        yield place


__all__ = [
    "BLOCKS_DIR_ENV",
    "HOME_ENV",
    "STORE_ENV",
    "Cluster",
    "Local",
    "Mounted",
    "StoreError",
    "baton_home",
    "blocks_place",
    "cluster_or_local",
    "mounted_blocks",
    "variables_place",
]
