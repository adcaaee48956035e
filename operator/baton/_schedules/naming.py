"""Deterministic FlowRun names: the name is the lock.

As in the Kubernetes CronJob controller, a scheduled run's name is derived from its Deployment
and its scheduled time, so a restarted operator, a second replica or a retried request that
tries to create the same run gets ``409 AlreadyExists`` instead of a duplicate. The CronJob
controller uses minutes since the epoch; Baton supports sub-minute intervals, so it uses
seconds (``etl-1763726400``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Final

from baton._schedules.specs import EPOCH, require_aware

MAX_NAME_LENGTH: Final = 63
"""Names are kept to 63 characters so they can also be used as label values."""
_HASH_LENGTH: Final = 8
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_subdomain(name: str) -> bool:
    """Whether ``name`` is a DNS-1123 subdomain (what Kubernetes accepts as an object name)."""
    return len(name) <= 253 and _SUBDOMAIN.fullmatch(name) is not None


def flow_run_name(deployment: str, scheduled: datetime) -> str:
    """``{deployment}-{seconds since the epoch}``, at most 63 characters.

    If that would be too long, the deployment part is cut and followed by the first 8 hex
    digits of the SHA-256 of the full deployment name, which keeps two long names that share a
    prefix apart: ``{prefix}-{hash8}-{seconds}``. The result is a valid DNS-1123 subdomain and a
    valid label value; it is unique per (deployment, scheduled second).

    Raises:
        ValueError: if ``deployment`` is not a DNS-1123 subdomain or ``scheduled`` is naive.
    """
    if not is_subdomain(deployment):
        raise ValueError(f"deployment name {deployment!r} is not a DNS-1123 subdomain")
    scheduled = require_aware(scheduled, "scheduled")
    seconds = (scheduled - EPOCH) // timedelta(seconds=1)
    suffix = f"-{seconds}"
    if len(deployment) + len(suffix) <= MAX_NAME_LENGTH:
        return f"{deployment}{suffix}"
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:_HASH_LENGTH]
    room = MAX_NAME_LENGTH - len(suffix) - len(digest) - 1
    prefix = deployment[:room].rstrip("-.")
    return f"{prefix}-{digest}{suffix}"
