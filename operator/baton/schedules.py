"""When Deployments fire: cron, interval and rrule schedules, timezones, DST and catch-up.

This module exists so that the CLI (``baton deploy`` validating a schedule before it is applied)
and the operator (turning schedules into FlowRuns) share one definition of every schedule
question: is it valid, when does it fire, what is due after downtime, what is the run called.
It is pure: no I/O, no clock (every function takes ``now`` or a range explicitly; all instants
are timezone-aware, UTC out), no Kubernetes and no SDK imports, so the scheduler's decisions are
unit-tested with fixed clocks.

DST follows Prefect's rules for cron: fire times follow the local wall clock; a wall-clock time
that occurs twice fires once, at its first occurrence; one that does not exist fires at the
first instant after it (the transition). Intervals are absolute durations. See
``docs/schedules.md`` for the tables.

The implementation lives in :mod:`baton._schedules`; this is its public surface.
"""

from __future__ import annotations

from baton._schedules.catchup import (
    SKIP_TOLERANCE,
    SKIPPED_SAMPLE_SIZE,
    CatchupPolicy,
    MissedPlan,
    plan_due_runs,
)
from baton._schedules.cron import MACROS
from baton._schedules.naming import MAX_NAME_LENGTH, flow_run_name
from baton._schedules.rrules import MAX_RRULE_LENGTH
from baton._schedules.specs import (
    EPOCH,
    CronSpec,
    IntervalSpec,
    NeverFiresError,
    RRuleSpec,
    ScheduleError,
    ScheduleSpec,
)
from baton._schedules.timeline import (
    count_fire_times,
    fire_times_between,
    next_fire_times,
)
from baton._schedules.validation import (
    describe,
    format_interval,
    parse_interval,
    validate_cron,
    validate_rrule,
    validate_schedule,
    validate_timezone,
)

__all__ = [
    "EPOCH",
    "MACROS",
    "MAX_NAME_LENGTH",
    "MAX_RRULE_LENGTH",
    "SKIPPED_SAMPLE_SIZE",
    "SKIP_TOLERANCE",
    "CatchupPolicy",
    "CronSpec",
    "IntervalSpec",
    "MissedPlan",
    "NeverFiresError",
    "RRuleSpec",
    "ScheduleError",
    "ScheduleSpec",
    "count_fire_times",
    "describe",
    "fire_times_between",
    "flow_run_name",
    "format_interval",
    "next_fire_times",
    "parse_interval",
    "plan_due_runs",
    "validate_cron",
    "validate_rrule",
    "validate_schedule",
    "validate_timezone",
]
