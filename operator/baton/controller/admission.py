"""Which waiting runs of one WorkPool may start now — a pure function.

Runs are considered oldest scheduled time first. A run starts when neither its pool nor
its Deployment is paused and both concurrency limits have room. When the Deployment's
limit is full, its collision strategy decides: ``Enqueue`` waits, ``CancelNew`` cancels
the newcomer, ``CancelOld`` cancels the oldest active run to make room (the newcomer
then waits for that slot, so a limit of 1 never has two Jobs at once).

``pool_readiness`` is the pool's own Ready condition: whether its runs can start at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton.resources import CollisionStrategy, DeploymentSpec, PoolType, WorkPoolSpec

RunKey = tuple[str, str]

AWAITING_SLOT = "AwaitingConcurrencySlot"
AWAITING_POOL_SLOT = "AwaitingPoolSlot"
POOL_PAUSED = "WorkPoolPaused"
DEPLOYMENT_PAUSED = "DeploymentPaused"
LIMIT_REACHED = "ConcurrencyLimitReached"
REPLACED = "ReplacedByNewerRun"


@dataclass(frozen=True)
class Candidate:
    key: RunKey
    deployment: str | None
    scheduled: datetime


@dataclass(frozen=True)
class ActiveRun:
    key: RunKey
    deployment: str | None
    started: datetime
    cancelling: bool = False


@dataclass
class Admission:
    admit: list[RunKey] = field(default_factory=list)
    wait: dict[RunKey, tuple[str, str]] = field(default_factory=dict)
    cancel_new: dict[RunKey, str] = field(default_factory=dict)
    cancel_old: list[RunKey] = field(default_factory=list)


def plan_admission(
    pool: WorkPoolSpec,
    waiting: list[Candidate],
    active: list[ActiveRun],
    deployments: dict[str, DeploymentSpec],
) -> Admission:
    """Decide for every waiting run of one pool; ``active`` are its Pending/Running runs."""
    plan = Admission()
    pool_active = len(active)
    per_deployment: dict[str | None, list[ActiveRun]] = defaultdict(list)
    for run in sorted(active, key=lambda r: (r.started, r.key)):
        per_deployment[run.deployment].append(run)
    for candidate in sorted(waiting, key=lambda c: (c.scheduled, c.key)):
        spec = deployments.get(candidate.deployment or "")
        if pool.paused:
            plan.wait[candidate.key] = (POOL_PAUSED, "the WorkPool is paused")
            continue
        if spec is not None and spec.paused:
            plan.wait[candidate.key] = (DEPLOYMENT_PAUSED, "the Deployment is paused")
            continue
        limit = spec.concurrency.limit if spec and spec.concurrency else None
        running = per_deployment[candidate.deployment]
        if limit is not None and len(running) >= limit:
            strategy = spec.concurrency.strategy if spec and spec.concurrency else None
            message = f"the Deployment's concurrency limit ({limit}) is reached"
            if strategy == CollisionStrategy.CANCEL_NEW:
                plan.cancel_new[candidate.key] = message
                continue
            if strategy == CollisionStrategy.CANCEL_OLD:
                victim = next((r for r in running if not r.cancelling), None)
                if victim is not None:
                    plan.cancel_old.append(victim.key)
                    running[running.index(victim)] = ActiveRun(
                        victim.key, victim.deployment, victim.started, cancelling=True
                    )
            plan.wait[candidate.key] = (AWAITING_SLOT, message)
            continue
        if pool.concurrency_limit is not None and pool_active >= pool.concurrency_limit:
            plan.wait[candidate.key] = (
                AWAITING_POOL_SLOT,
                f"the WorkPool's concurrency limit ({pool.concurrency_limit}) is reached",
            )
            continue
        plan.admit.append(candidate.key)
        pool_active += 1
        running.append(ActiveRun(candidate.key, candidate.deployment, candidate.scheduled))
    return plan


# Reasons of a WorkPool's Ready condition.
POOL_READY = "AcceptingRuns"
POOL_PAUSED_READY = "Paused"
NO_WORKERS = "NoWorkers"
WORKERS_READY = "WorkersHeartbeating"


@dataclass(frozen=True)
class PoolReadiness:
    """A WorkPool's Ready condition, and when it may change without any event."""

    status: str
    reason: str
    message: str
    #: The next live worker's heartbeat deadline (process pools): look again then.
    recheck_at: datetime | None = None


def heartbeat_deadline(beat: datetime, spec: WorkPoolSpec) -> datetime:
    """Until when a process worker that heartbeated at ``beat`` counts as live; after it,
    its runs are marked Crashed (WorkerLost)."""
    return beat + timedelta(seconds=spec.heartbeat_timeout_seconds)


def pool_readiness(
    name: str, spec: WorkPoolSpec, heartbeats: dict[str, datetime], now: datetime
) -> PoolReadiness:
    """Ready: can runs of this pool start? A process pool needs a live worker for that.

    A worker is live while its last heartbeat is younger than ``heartbeatTimeoutSeconds``,
    the same deadline after which its runs are marked Crashed (WorkerLost).
    """
    recheck = None
    if spec.type == PoolType.PROCESS:
        live = (heartbeat_deadline(beat, spec) for beat in heartbeats.values())
        deadlines = sorted(deadline for deadline in live if deadline > now)
        if not deadlines:
            return PoolReadiness(
                "False",
                NO_WORKERS,
                f"no process worker has heartbeated in the last {spec.heartbeat_timeout_seconds}s;"
                f" start one with: baton worker start -p {name}",
            )
        recheck = deadlines[0]
        if not spec.paused:
            return PoolReadiness(
                "True", WORKERS_READY, f"{len(deadlines)} worker(s) heartbeating", recheck
            )
    if spec.paused:
        return PoolReadiness("True", POOL_PAUSED_READY, "paused: no new runs start", recheck)
    return PoolReadiness("True", POOL_READY, "runs start as Jobs")
