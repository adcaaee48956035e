"""The scheduling loop: one asyncio task that turns fire times into FlowRuns.

Watch events (from kopf) keep an in-memory copy of every Deployment and of the FlowRuns
it owns. The loop sleeps until the earliest next fire time of any Deployment, or until
an event marks one dirty — there is no polling interval adding latency. Each wake-up
plans the due Deployments with the pure functions in ``planning`` and applies the plan:
create runs (``AlreadyExists`` is success: the name is the lock), then write status only
if it changed, so a restart over thousands of quiet Deployments writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pydantic

from baton._kube.client import DEPLOYMENTS, FLOWRUNS, AlreadyExists, ApiError, NotFound
from baton._kube.gate import REPORT, URGENT
from baton.contract import format_time, parse_time
from baton.controller import events, metrics
from baton.controller.cache import replaced
from baton.controller.planning import (
    INVALID_SPEC,
    RunInfo,
    SchedulePlan,
    deployment_status,
    plan_schedules,
    runs_to_delete,
)
from baton.controller.queue import WorkQueue, utcnow
from baton.resources import Deployment, WorkPool, WorkPoolSpec
from baton.resources.deployment import DEFAULT_WORK_POOL

logger = logging.getLogger("baton.scheduler")

Key = tuple[str, str]  # (namespace, name)


def namespace_going(error: ApiError) -> bool:
    """Whether a create failed because its namespace is being deleted, or is gone."""
    if isinstance(error, NotFound):
        return True
    return error.status == 403 and "being terminated" in error.message


def run_info(body: dict[str, Any]) -> RunInfo:
    metadata = body.get("metadata", {})
    return RunInfo(
        name=metadata.get("name", ""),
        state=(body.get("status") or {}).get("state"),
        scheduled_time=parse_time((body.get("spec") or {}).get("scheduledTime")),
        created=parse_time(metadata.get("creationTimestamp")) or utcnow(),
    )


#: How soon a Deployment's status follows its runs' state changes. Coalesces a burst of
#: run events (a fire time across thousands of Deployments) into one write each, and keeps
#: those writes out of the way of the FlowRun creations that the burst is made of.
STATUS_DELAY = timedelta(seconds=1)


@dataclass
class _Tracked:
    body: dict[str, Any]
    runs: dict[str, RunInfo] = field(default_factory=dict)
    written_status: dict[str, Any] | None = None
    parsed: tuple[dict[str, Any], Deployment] | None = None

    def deployment(self) -> Deployment:
        """The body as a model, parsed once per body (raises ``ValidationError``)."""
        if self.parsed is None or self.parsed[0] is not self.body:
            self.parsed = (self.body, Deployment.model_validate(self.body))
        return self.parsed[1]


class Scheduler:
    """Holds the Deployments' state and runs the wake-plan-apply loop."""

    def __init__(
        self,
        client: Any,
        recorder: events.Recorder,
        *,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 1024,
    ) -> None:
        # Reconciles are cheap coroutines; what the API server sees is bounded by the
        # client's gate. A high limit lets every due FlowRun creation queue up front,
        # ahead (by priority) of the status writes of the Deployments already done.
        self._client = client
        self._events = recorder
        self._clock = clock
        self._tracked: dict[Key, _Tracked] = {}
        self._orphan_runs: dict[Key, dict[str, RunInfo]] = {}
        # Each pool's spec, for what it lets its Deployments set in jobVariables.
        self._pools: dict[Key, WorkPoolSpec] = {}
        # Each pool's UID, so a late DELETED of a replaced pool is told apart.
        self._pool_bodies: dict[Key, dict[str, Any]] = {}
        self.queue: WorkQueue[Key] = WorkQueue(
            self.reconcile, name="scheduler", clock=clock, concurrency=concurrency
        )

    # -- fed by watch events ------------------------------------------------------------
    def deployment_event(self, event_type: str, body: dict[str, Any]) -> None:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        tracked = self._tracked.get(key)
        if event_type == "DELETED" and replaced(tracked.body if tracked else None, body):
            return
        if event_type == "DELETED":
            self._tracked.pop(key, None)
            self.queue.forget(key)
            metrics.forget_deployment(*key)
            return
        if tracked is None:
            runs = self._orphan_runs.pop(key, {})
            tracked = self._tracked[key] = _Tracked(
                body=body, runs=runs, written_status=body.get("status")
            )
        else:
            if body.get("metadata", {}).get("uid") != tracked.body.get("metadata", {}).get("uid"):
                tracked.written_status = body.get("status")
            tracked.body = body
        self.mark_dirty(key)

    def pool_event(self, event_type: str, body: dict[str, Any]) -> None:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED" and replaced(self._pool_bodies.get(key), body):
            return
        if event_type == "DELETED":
            self._pool_bodies.pop(key, None)
        else:
            self._pool_bodies[key] = {"metadata": {"uid": body["metadata"].get("uid")}}
        spec: WorkPoolSpec | None = None
        if event_type != "DELETED":
            with contextlib.suppress(pydantic.ValidationError):
                spec = WorkPool.model_validate(body).spec
        if spec == self._pools.get(key):
            return
        if spec is None:
            self._pools.pop(key, None)
        else:
            self._pools[key] = spec
        for deployment_key, tracked in self._tracked.items():
            ref = ((tracked.body.get("spec") or {}).get("workPoolRef") or {}).get("name")
            if deployment_key[0] == key[0] and (ref or DEFAULT_WORK_POOL) == key[1]:
                self.mark_dirty(deployment_key)

    def flow_run_event(self, event_type: str, body: dict[str, Any]) -> None:
        deployment = ((body.get("spec") or {}).get("deploymentRef") or {}).get("name")
        if not deployment:
            return
        key = (body["metadata"]["namespace"], deployment)
        tracked = self._tracked.get(key)
        runs = tracked.runs if tracked else self._orphan_runs.setdefault(key, {})
        name = body["metadata"]["name"]
        if event_type == "DELETED":
            runs.pop(name, None)
        else:
            info = run_info(body)
            if runs.get(name) == info:
                return
            runs[name] = info
        if tracked:
            # Only the status (last run, active runs) and history pruning depend on runs.
            self.queue.soon(key, STATUS_DELAY)

    def mark_dirty(self, key: Key) -> None:
        self.queue.mark(key)

    async def run(self) -> None:
        logger.info("scheduler started")
        await self.queue.run()

    async def reconcile(self, key: Key) -> datetime | None:
        """Create the due runs of one Deployment; return when to look at it again."""
        tracked = self._tracked.get(key)
        if tracked is None:
            return None
        now = self._clock()
        try:
            deployment = tracked.deployment()
        except pydantic.ValidationError as error:
            await self._invalid_spec(key, tracked, error, now)
            return None
        pool = self._pools.get((key[0], deployment.spec.work_pool_ref.name))
        plan = plan_schedules(deployment, now=now, pool=pool)
        await self._create_runs(deployment, plan, tracked)
        status = deployment_status(deployment, plan, list(tracked.runs.values()), now)
        metrics.observe_deployment(
            *key,
            next_fire=plan.wake_at,
            last_scheduled=parse_time(status["lastScheduledTime"]),
            active_runs=status["activeRuns"],
            paused=deployment.spec.paused,
        )
        await self._write_status(key, tracked, deployment, status, plan)
        for name in runs_to_delete(deployment.spec, list(tracked.runs.values())):
            with contextlib.suppress(NotFound):
                await self._client.delete(FLOWRUNS, name, key[0], propagation="Background")
            tracked.runs.pop(name, None)
        return plan.wake_at

    async def _create_runs(
        self, deployment: Deployment, plan: SchedulePlan, tracked: _Tracked
    ) -> None:
        for manifest in plan.runs:
            try:
                created = await self._client.create(
                    FLOWRUNS, manifest, deployment.namespace, priority=URGENT
                )
            except AlreadyExists:
                continue
            except ApiError as error:
                if not namespace_going(error):
                    raise
                # Its deletion reaches the Deployment too (the watch forgets it then).
                logger.info(
                    "namespace %s is being deleted: no runs created for %s",
                    deployment.namespace,
                    deployment.name,
                )
                return
            # Known now, so the status written next already shows it (one write, not two).
            tracked.runs.setdefault(created["metadata"]["name"], run_info(created))
            metrics.RUNS_CREATED.labels(deployment.namespace).inc()
            fire_time = parse_time(manifest["spec"]["scheduledTime"])
            if fire_time is not None:
                metrics.SCHEDULING_SKEW.observe((self._clock() - fire_time).total_seconds())
        if plan.skipped:
            sample = ", ".join(format_time(t) for t in plan.skipped_sample)
            self._events.record(
                deployment.metadata,
                events.MISSED_RUNS,
                f"skipped {plan.skipped} missed fire time(s) under catch-up "
                f"policy {deployment.spec.catchup.policy.value} (latest: {sample})",
                warning=True,
            )

    async def _write_status(
        self,
        key: Key,
        tracked: _Tracked,
        deployment: Deployment,
        status: dict[str, Any],
        plan: SchedulePlan,
    ) -> None:
        previous = tracked.written_status or {}
        if all(previous.get(k) == v for k, v in status.items()):
            return
        old_ready: dict[str, Any] = next(
            (c for c in previous.get("conditions", []) if c.get("type") == "Ready"), {}
        )
        new_ready = status["conditions"][0]
        if new_ready["status"] == "False" and (
            old_ready.get("reason"),
            old_ready.get("message"),
        ) != (new_ready["reason"], new_ready["message"]):
            self._events.record(
                tracked.body["metadata"],
                new_ready["reason"],
                new_ready["message"],
                warning=True,
            )
        try:
            await self._client.patch_status(
                DEPLOYMENTS, key[1], key[0], {"status": status}, priority=REPORT
            )
        except NotFound:
            return
        tracked.written_status = {**previous, **status}

    async def _invalid_spec(
        self, key: Key, tracked: _Tracked, error: pydantic.ValidationError, now: datetime
    ) -> None:
        problem = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3]
        )
        status = {
            "observedGeneration": tracked.body["metadata"].get("generation"),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": INVALID_SPEC,
                    "message": problem,
                    "observedGeneration": tracked.body["metadata"].get("generation"),
                    "lastTransitionTime": format_time(now),
                }
            ],
        }
        previous = tracked.written_status or {}
        old = (previous.get("conditions") or [{}])[0]
        if (old.get("reason"), old.get("message")) == (INVALID_SPEC, problem):
            return
        self._events.record(tracked.body["metadata"], INVALID_SPEC, problem, warning=True)
        try:
            await self._client.patch_status(
                DEPLOYMENTS, key[1], key[0], {"status": status}, priority=REPORT
            )
        except (NotFound, ApiError):
            logger.warning("cannot write status of %s/%s", *key)
            return
        tracked.written_status = {**previous, **status}
