"""Labels Baton puts on what it creates, and how names become valid label values."""

from __future__ import annotations

import hashlib

MANAGED_BY = {"app.kubernetes.io/managed-by": "baton"}
LABEL_DEPLOYMENT = "baton.dev/deployment"
LABEL_FLOW = "baton.dev/flow"
LABEL_POOL = "baton.dev/work-pool"
LABEL_RUN = "baton.dev/flow-run"
LABEL_ATTEMPT = "baton.dev/attempt"
#: On a FlowRun created by ``run_deployment`` inside another run: the caller's name.
LABEL_PARENT_RUN = "baton.dev/parent-flow-run"


def label_value(name: str) -> str:
    """``name`` as a valid label value (at most 63 characters, stable for long names)."""
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-.')}-{digest}"


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())
