"""The operator brings the cluster's Baton CRDs up to its own version when it starts.

Helm installs a chart's ``crds/`` on the first ``helm install`` and never upgrades them,
so a ``helm upgrade`` would run a new operator against the old schema: new fields
pruned, new printer columns and validation rules missing. Rendering the CRDs as chart
templates instead is not possible here: the chart also creates a WorkPool (the
``default`` pool), and Helm maps every object of a release to an API kind before it
creates any, so a fresh install would fail on a kind whose CRD is in the same release.

So, with ``--upgrade-crds`` (the chart passes it unless ``crds.upgrade=false``), the
start-up handler server-side-applies the CRDs generated from the running package's own
models (the generator that writes ``crds/``, so the two cannot differ) before it lists
or watches anything. It needs ``get`` and ``patch`` on exactly Baton's CRDs, never
``create`` or ``delete``: a missing CRD is an error that says how to install it. It
never downgrades: a CRD annotated with a newer Baton version (a newer replica of a
rolling update got there first, or the operator was rolled back) is left as it is.
"""

from __future__ import annotations

import logging
import re

from baton import __version__, contract
from baton._kube.client import ApiError, AsyncKubeClient, Json, Kind
from baton.resources import KINDS
from baton.resources.crd import custom_resource_definition

logger = logging.getLogger("baton.crds")

CUSTOM_RESOURCE_DEFINITIONS = Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions")
#: The Baton version whose models a CRD was applied from.
VERSION_ANNOTATION = contract.ANNOTATION_CRD_VERSION
FIELD_MANAGER = "baton-operator"


class CrdMissingError(RuntimeError):
    """A Baton CRD is not installed; the operator does not create CRDs."""


def desired(kind_name: str, version: str = __version__) -> Json:
    """The CRD of ``kind_name`` as this package generates it, stamped with ``version``."""
    kind = next(k for k in KINDS if k.crd_name == kind_name)
    crd = custom_resource_definition(kind)
    crd["metadata"].setdefault("annotations", {})[VERSION_ANNOTATION] = version
    return crd


def _release(version: str) -> tuple[int, ...] | None:
    """(major, minor, patch) of a version like ``0.2.0`` or ``0.2.0rc1``; None if not one."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(part) for part in match.groups()) if match else None


def should_apply(live: Json, version: str = __version__) -> bool:
    """Whether this operator's CRD may replace ``live``: not when ``live`` is newer."""
    stamped = (live.get("metadata", {}).get("annotations") or {}).get(VERSION_ANNOTATION)
    ours, theirs = _release(version), _release(stamped or "")
    return theirs is None or ours is None or ours >= theirs


async def upgrade_crds(client: AsyncKubeClient, version: str = __version__) -> list[str]:
    """Apply every Baton CRD this version generates; the names of those applied."""
    applied = []
    for kind in KINDS:
        name = kind.crd_name
        path = CUSTOM_RESOURCE_DEFINITIONS.path(name=name)
        try:
            live = await client.request("GET", path)
        except ApiError as error:
            if error.status == 404:
                raise CrdMissingError(
                    f"CRD {name} is not installed: install the chart (its crds/) or "
                    f"`kubectl apply --server-side -f crds/` of Baton {version}"
                ) from error
            raise
        if not should_apply(live, version):
            stamped = live["metadata"]["annotations"][VERSION_ANNOTATION]
            logger.info("CRD %s is from Baton %s, newer than %s: kept", name, stamped, version)
            continue
        # JSON is YAML: an apply patch may be either.
        await client.request(
            "PATCH",
            path,
            body=desired(name, version),
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )
        applied.append(name)
    if applied:
        logger.info("applied the CRDs of Baton %s: %s", version, ", ".join(applied))
    return applied
