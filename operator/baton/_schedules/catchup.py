"""Which fire times to turn into FlowRuns when the scheduler looks at a Deployment.

Normally that is the one fire time that just came due; after the operator was down, or the
Deployment was paused, there may be many. The decision is a pure function of the schedule,
``lastScheduledTime`` (or the Deployment's creation time), ``now`` and the catch-up policy, in
the spirit of the Kubernetes CronJob controller (``mostRecentScheduleTime``: due times are those
after the last scheduled time; ``startingDeadlineSeconds`` bounds how late a run may start).
Unlike that controller, nothing here stops at 100 missed times: the work is bounded by what is
kept (``max_catchup`` runs, a small sample of skipped times), and the total is counted by
arithmetic, so a minute cron down for a year is planned in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from baton._schedules.specs import ScheduleSpec, require_aware
from baton._schedules.timeline import recent_fire_times

SKIP_TOLERANCE: Final = timedelta(seconds=60)
"""How late a fire time may be and still count as "due now" under ``Skip``."""
SKIPPED_SAMPLE_SIZE: Final = 10
"""How many of the most recent skipped fire times :class:`MissedPlan` lists."""


class CatchupPolicy(StrEnum):
    """What to do with fire times that came due while nobody created their runs."""

    LATEST = "Latest"  # run only the most recent one, if still within the deadline
    ALL = "All"  # run each one within the deadline, at most max_catchup (the newest)
    SKIP = "Skip"  # run only one that is due right now; never catch up


@dataclass(frozen=True)
class MissedPlan:
    """The scheduler's decision for one schedule.

    Attributes:
        to_create: fire times to create FlowRuns for, ascending.
        skipped: the most recent skipped fire times (at most ``SKIPPED_SAMPLE_SIZE``),
            ascending, for an Event message.
        skipped_count: how many due fire times are skipped in total (exact).
        latest_due: the most recent due fire time, created or skipped; the caller records it
            as ``lastScheduledTime`` so skipped times are never considered again.
    """

    to_create: list[datetime] = field(default_factory=list)
    skipped: list[datetime] = field(default_factory=list)
    skipped_count: int = 0
    latest_due: datetime | None = None


def plan_due_runs(
    spec: ScheduleSpec,
    *,
    last_scheduled: datetime | None,
    created_at: datetime,
    now: datetime,
    policy: CatchupPolicy,
    starting_deadline_seconds: int | None,
    max_catchup: int,
) -> MissedPlan:
    """Decide which due fire times, those in ``(last_scheduled or created_at, now]``, to run.

    A fire time ``t`` is *on time* if ``now - t <= starting_deadline_seconds`` (always, when the
    deadline is ``None``).

    - ``Latest``: create the most recent due time if it is on time; skip all others.
    - ``All``: create every on-time due time, at most the ``max_catchup`` most recent; skip
      the rest.
    - ``Skip``: create the most recent due time only if it is at most ``SKIP_TOLERANCE``
      (60 s, or the deadline if shorter) late; skip all others.

    Raises:
        ValueError: on naive datetimes, a negative deadline or ``max_catchup < 1``.
    """
    now = require_aware(now, "now")
    since = require_aware(last_scheduled if last_scheduled is not None else created_at, "since")
    if starting_deadline_seconds is not None and starting_deadline_seconds < 0:
        raise ValueError(f"starting_deadline_seconds must be >= 0, got {starting_deadline_seconds}")
    if max_catchup < 1:
        raise ValueError(f"max_catchup must be >= 1, got {max_catchup}")
    deadline = None
    if starting_deadline_seconds is not None:
        deadline = timedelta(seconds=starting_deadline_seconds)
    if policy is CatchupPolicy.SKIP:
        deadline = SKIP_TOLERANCE if deadline is None else min(deadline, SKIP_TOLERANCE)
    wanted = max_catchup if policy is CatchupPolicy.ALL else 1
    recent, total = recent_fire_times(spec, since, now, wanted + SKIPPED_SAMPLE_SIZE)
    if not recent:
        return MissedPlan()
    to_create = [t for t in recent[-wanted:] if deadline is None or now - t <= deadline]
    chosen = set(to_create)
    skipped = [t for t in recent if t not in chosen][-SKIPPED_SAMPLE_SIZE:]
    return MissedPlan(
        to_create=to_create,
        skipped=skipped,
        skipped_count=total - len(to_create),
        latest_due=recent[-1],
    )
