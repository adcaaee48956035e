"""``Deployment.spec.notifications``: the short form, expanded into owned Automations.

Each entry becomes one Automation named ``<deployment>-notify-<n>``, owned by the
Deployment (deleted with it by the garbage collector), whose trigger is "a run of this
Deployment enters one of these states" and whose one action is the entry's channel. The
Automation is then handled like any other: one machinery, one status to read.
"""

from __future__ import annotations

import hashlib
from typing import Any

from baton.contract import API_VERSION, LABEL_NOTIFICATIONS_OF, MANAGED_BY, owner_reference
from baton.resources.deployment import Deployment

#: Labels on expanded Automations: which Deployment they come from, and who wrote them.
FROM_DEPLOYMENT = LABEL_NOTIFICATIONS_OF


def automation_name(deployment: str, index: int) -> str:
    name = f"{deployment}-notify-{index}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:8]
    return f"{deployment[:230]}-{digest}-notify-{index}"


def expand(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Name → the Automation manifest each notification entry stands for."""
    out: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(deployment.spec.notifications):
        channel = {
            kind: getattr(entry, kind).to_wire()
            for kind in ("slack", "webhook", "email")
            if getattr(entry, kind) is not None
        }
        name = automation_name(deployment.name, index)
        out[name] = {
            "apiVersion": API_VERSION,
            "kind": "Automation",
            "metadata": {
                "name": name,
                "namespace": deployment.namespace,
                "labels": {FROM_DEPLOYMENT: deployment.name[:63], **MANAGED_BY},
                "ownerReferences": [
                    owner_reference(
                        "Deployment",
                        deployment.name,
                        deployment.metadata.get("uid", ""),
                        block_owner_deletion=False,
                    )
                ],
            },
            "spec": {
                "description": f"spec.notifications[{index}] of Deployment {deployment.name}",
                "trigger": {
                    "runState": {
                        "deployments": [deployment.name],
                        "states": [s.value for s in entry.states],
                    }
                },
                "actions": [channel],
            },
        }
    return out


def owned_by(body: dict[str, Any], uid: str) -> bool:
    return any(
        ref.get("uid") == uid and ref.get("kind") == "Deployment"
        for ref in (body.get("metadata") or {}).get("ownerReferences") or []
    )
