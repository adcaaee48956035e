"""Why a run's pod has not started: a pure reading of its Job, its pod and their Events.

A Job whose pod cannot start does not fail: the Job controller retries a refused pod
creation for ever (recording only ``FailedCreate`` Events on the Job), the scheduler
leaves an unschedulable pod Pending, and the kubelet retries a missing Secret or an
image pull with back-off. Left alone such a run says "Pending: Job created" for as long
as anyone watches. The run controller asks ``startup_problem`` on every look; the run's
message names the problem at once, and the run ends Crashed with it when the pool's
start-up timeout has passed since the Job was created (``lifecycle.follow``).

The Job's Events are the one input the watches do not carry: the run controller reads
them (one list call, by the Job's UID) only for a Job that has no pod yet, first
``FIRST_EVENT_LOOK`` after the Job was created, then at growing intervals
(``next_event_look``): a Job whose pod appears in time costs no request at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.contract import parse_time

#: Reasons a run is given while its pod cannot start, and when it ends Crashed for it.
FAILED_CREATE = "FailedCreate"
UNSCHEDULABLE = "Unschedulable"
IMAGE_PULL = "ImagePullBackOff"
CONTAINER_CONFIG = "CreateContainerConfigError"
STARTUP_REASONS = frozenset({FAILED_CREATE, UNSCHEDULABLE, IMAGE_PULL, CONTAINER_CONFIG})

#: The kubelet's waiting reasons that never clear by themselves, by the reason above.
_WAITING_REASONS = {
    "ImagePullBackOff": IMAGE_PULL,
    "ErrImagePull": IMAGE_PULL,
    "InvalidImageName": IMAGE_PULL,
    "ErrImageNeverPull": IMAGE_PULL,
    "CreateContainerConfigError": CONTAINER_CONFIG,
    "CreateContainerError": CONTAINER_CONFIG,
}

#: A healthy Job has its pod well within this; only later are its Events read.
FIRST_EVENT_LOOK = timedelta(seconds=2)
#: Intervals between two reads of a pod-less Job's Events grow up to this.
MAX_EVENT_LOOK = timedelta(seconds=30)


@dataclass(frozen=True)
class StartupProblem:
    """What keeps the pod from starting: a reason above and the cluster's own words."""

    reason: str
    message: str


def _waiting(pod: dict[str, Any]) -> StartupProblem | None:
    status = pod.get("status") or {}
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = _WAITING_REASONS.get(str(waiting.get("reason")))
        if reason is not None:
            words = f"{waiting['reason']}: {waiting.get('message', '')}".strip(": ")
            return StartupProblem(reason, f"container {container.get('name', '?')}: {words}")
    return None


def _unschedulable(pod: dict[str, Any]) -> StartupProblem | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == UNSCHEDULABLE
        ):
            words = condition.get("message") or "no node fits the pod"
            return StartupProblem(UNSCHEDULABLE, f"the pod cannot be scheduled: {words}")
    return None


def startup_problem(pod: dict[str, Any] | None, failed_create: str | None) -> StartupProblem | None:
    """What keeps the run's pod from starting, or None if nothing known does.

    ``failed_create`` is the message of the Job's newest ``FailedCreate`` Event (read
    only while the Job has no pod): the pod was refused by admission — a missing
    ServiceAccount, an exhausted ResourceQuota, Pod Security.
    """
    if pod is None:
        if failed_create:
            return StartupProblem(FAILED_CREATE, f"the pod was refused: {failed_create}")
        return None
    return _waiting(pod) or _unschedulable(pod)


def startup_began(job: dict[str, Any] | None, pod: dict[str, Any] | None) -> datetime | None:
    """When the attempt's start-up began: its Job's creation (else its pod's)."""
    for obj in (job, pod):
        created = parse_time(((obj or {}).get("metadata") or {}).get("creationTimestamp"))
        if created is not None:
            return created
    return None


def needs_event_look(job: dict[str, Any] | None, pod: dict[str, Any] | None) -> bool:
    """Whether the Job's Events may hold the reason it has no pod."""
    if job is None or pod is not None or job["metadata"].get("deletionTimestamp"):
        return False
    status = job.get("status") or {}
    # A Job that counts a pod has one (our pod watch may lag); a finished one is past it.
    counted = any(status.get(k) for k in ("active", "ready", "succeeded", "failed"))
    return not counted and not status.get("conditions")


def latest_failed_create(events: list[dict[str, Any]]) -> str | None:
    """The message of the newest ``FailedCreate`` Event among ``events`` (core/v1)."""

    def when(event: dict[str, Any]) -> str:
        return str(
            event.get("lastTimestamp")
            or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp")
            or ""
        )

    refused = [e for e in events if e.get("reason") == FAILED_CREATE and e.get("message")]
    if not refused:
        return None
    return str(max(refused, key=when)["message"])


def next_event_look(began: datetime, now: datetime) -> datetime:
    """When to read a pod-less Job's Events next: 2 s after its creation, then at
    intervals that double with its age (2, 4, 8... s) up to ``MAX_EVENT_LOOK``."""
    first = began + FIRST_EVENT_LOOK
    if now < first:
        return first
    age = now - began
    return now + min(max(age, FIRST_EVENT_LOOK), MAX_EVENT_LOOK)
