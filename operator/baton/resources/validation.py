"""Checks the API server cannot make, shared by the operator and the CLI.

The CRD schema refuses malformed objects at admission. What remains needs real
knowledge — is ``61 * * * *`` a cron expression, is ``Mars/Base`` a time zone, does an
rrule parse — and lives here, so ``baton deploy`` and the operator's ``Ready=False``
condition word each problem the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from baton.resources.deployment import DeploymentSpec, Schedule
from baton.resources.job_template import refused_job_variables
from baton.resources.workpool import WorkPoolSpec

if TYPE_CHECKING:
    from baton.schedules import ScheduleError, ScheduleSpec

INVALID_SCHEDULE = "InvalidSchedule"
JOB_VARIABLES_REFUSED = "JobVariablesRefused"
#: A well-formed schedule with no fire time within its bounded search.
NEVER_FIRES = "NeverFires"


@dataclass(frozen=True)
class Problem:
    """One semantic problem: a CamelCase reason and a message naming the culprit."""

    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def schedule_spec(schedule: Schedule) -> ScheduleSpec:
    """The parsed schedule; raises ``ScheduleError`` with a user-facing message."""
    from baton.schedules import validate_schedule  # noqa: PLC0415

    return validate_schedule(
        cron=schedule.cron,
        interval=schedule.interval,
        rrule=schedule.rrule,
        timezone=schedule.timezone,
        anchor_time=schedule.anchor_time,
        day_or=schedule.day_or,
    )


def schedule_problem(schedule: Schedule, index: int) -> Problem | None:
    """``None`` when the schedule is valid, else what is wrong with it."""
    from baton.schedules import ScheduleError  # noqa: PLC0415

    try:
        schedule_spec(schedule)
    except ScheduleError as error:
        return schedule_error_problem(schedule, index, error)
    return None


def schedule_error_problem(schedule: Schedule, index: int, error: ScheduleError) -> Problem:
    """The Problem for ``error`` raised by (validating or searching) ``schedules[index]``."""
    from baton.schedules import NeverFiresError  # noqa: PLC0415

    label = f"schedules[{index}]" + (f" ({schedule.name})" if schedule.name else "")
    reason = NEVER_FIRES if isinstance(error, NeverFiresError) else INVALID_SCHEDULE
    return Problem(reason, f"{label}: {error}")


def deployment_problems(spec: DeploymentSpec) -> list[Problem]:
    """Every semantic problem of a Deployment spec, in schedule order."""
    return [p for i, s in enumerate(spec.schedules) if (p := schedule_problem(s, i))]


def job_variable_problems(spec: DeploymentSpec, pool: WorkPoolSpec) -> list[Problem]:
    """What the Deployment's ``jobVariables`` set that its WorkPool does not allow."""
    refused = refused_job_variables(spec.job_variables, pool.allowed_job_variables)
    if not refused:
        return []
    pool_name = spec.work_pool_ref.name
    return [Problem(JOB_VARIABLES_REFUSED, f"WorkPool {pool_name!r}: " + "; ".join(refused))]
