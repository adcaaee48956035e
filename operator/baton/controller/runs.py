"""The run controller: admits FlowRuns, creates their Jobs, and follows them to the end.

What it knows lives in ``cache.ClusterCache`` (copies of the watched objects; Jobs and
pods only those Baton created, through a server-side label selector, so unrelated
workloads cost nothing). Two kinds of keys go through one work queue:

* ``("pool", namespace, name)`` — an admission pass over the pool's waiting runs
  (``admission.plan_admission``), which creates Jobs for the admitted ones;
* ``("run", namespace, name)`` — follow one admitted run (``lifecycle.follow``).

Every decision is a pure function; this module only gathers inputs and applies outputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton import schema_validation
from baton._kube.client import (
    FLOWRUNS,
    FLOWS,
    JOBS,
    WORKPOOLS,
    AlreadyExists,
    ApiError,
    Conflict,
    NotFound,
)
from baton._kube.events import CORE_EVENTS
from baton._kube.gate import REPORT
from baton.contract import AWAITING_WORKER, CANCEL_REQUESTED, JOB_CREATED, merge_parameters
from baton.contract import format_time as _stamp
from baton.controller import events, metrics
from baton.controller.admission import (
    LIMIT_REACHED,
    REPLACED,
    ActiveRun,
    Candidate,
    plan_admission,
    pool_readiness,
)
from baton.controller.cache import (
    ADMITTED,
    JOB_NAME_LABEL,
    WAITING,
    ClusterCache,
    Key,
    QueueKey,
    key_of,
    replaced,
)
from baton.controller.jobs import build_job, controlled_by, job_name, namesake_job
from baton.controller.lifecycle import REPORTED, Step, Timing, follow, follow_process
from baton.controller.queue import WorkQueue, utcnow
from baton.controller.startup import (
    FAILED_CREATE,
    FIRST_EVENT_LOOK,
    latest_failed_create,
    needs_event_look,
    next_event_look,
    startup_began,
)
from baton.resources import Deployment, Flow, FlowRun, RunState, WorkPool
from baton.resources._base import Condition, condition
from baton.resources.flowrun import TERMINAL_STATES
from baton.resources.validation import JOB_VARIABLES_REFUSED, job_variable_problems
from baton.resources.workpool import PoolType

logger = logging.getLogger("baton.runs")

HISTORY_LIMIT = 20

#: How soon a WorkPool's running/queued counts follow an admission pass.
POOL_STATUS_DELAY = timedelta(milliseconds=500)

#: How much of one admission pass runs between two yields to the event loop, so a pool
#: full of costly-to-check runs never holds up another namespace's fire times.
PASS_SLICE_SECONDS = 0.01
#: How often a WorkPool that runs wait for, and the cache lacks, is asked of the API server.
MISSING_POOL_RECHECK = timedelta(seconds=5)

# Reasons of the operator's own decisions before a Job exists.
INVALID_PARAMETERS = events.INVALID_PARAMETERS
INVALID_PARAMETER_SCHEMA = events.INVALID_PARAMETER_SCHEMA
MISSING = "Missing"
SUBMITTED = JOB_CREATED
CLAIMABLE = AWAITING_WORKER
JOB_NAME_TAKEN = "JobNameTaken"
JOB_NAME_HELD = "JobNameHeld"
#: How soon a run whose Job name a deleted namesake's Job still holds tries again.
NAME_HELD_RETRY = timedelta(seconds=1)


def succeeded_condition(
    run: FlowRun, state: RunState, message: str, now: datetime
) -> dict[str, Any]:
    """``Succeeded``: True once Completed, False once it ended otherwise, else Unknown.

    The reason is the state, so ``kubectl wait --for=condition=Succeeded flowrun/x`` waits
    for success and ``--for=condition=Succeeded=False`` for any other end.
    """
    status = "True" if state == RunState.COMPLETED else "False"
    if state not in TERMINAL_STATES:
        status = "Unknown"
    previous = next((c for c in run.status.conditions if c.type == "Succeeded"), None)
    return condition(
        "Succeeded",
        status,
        state.value,
        message[:2000],
        generation=run.generation,
        previous=previous,
        now=now,
    )


def status_patch(run: FlowRun, step: Step, now: datetime) -> dict[str, Any]:
    """The merge patch for ``step``: operator-owned fields only."""
    patch: dict[str, Any] = {
        k: _stamp(v) if isinstance(v, datetime) else v for k, v in step.fields.items()
    }
    if step.state is not None and (step.state, step.reason, step.message) != (
        run.status.state,
        run.status.reason,
        run.status.message,
    ):
        history = [h.to_wire() for h in run.status.history][-(HISTORY_LIMIT - 1) :]
        if step.state != run.status.state:
            history.append(
                {
                    "state": step.state.value,
                    "timestamp": _stamp(now),
                    "reason": step.reason,
                    "message": step.message[:300],
                }
            )
        patch.update(
            {
                "state": step.state.value,
                "reason": step.reason,
                "message": step.message[:2000],
                "history": history,
            }
        )
        if step.state != run.status.state:
            patch["stateTime"] = _stamp(now)
        patch["conditions"] = [succeeded_condition(run, step.state, step.message, now)]
    if patch:
        patch["observedGeneration"] = run.generation
    return patch


@dataclass
class _PoolView:
    """The runs of one pool, sorted for an admission pass."""

    waiting: list[Candidate] = field(default_factory=list)
    active: list[ActiveRun] = field(default_factory=list)
    runs: dict[Key, tuple[FlowRun, Deployment | None, Flow | None]] = field(default_factory=dict)
    wake: list[datetime] = field(default_factory=list)
    writes: list[Coroutine[Any, Any, bool]] = field(default_factory=list)


class RunController:
    def __init__(
        self,
        client: Any,
        recorder: events.Recorder,
        *,
        clock: Callable[[], datetime] = utcnow,
        timing: Timing | None = None,
        concurrency: int = 64,
    ) -> None:
        self._client = client
        self._events = recorder
        self._clock = clock
        self.timing = timing or Timing()
        self.cache = ClusterCache()
        self._job_missing_since: dict[Key, datetime] = {}
        # Pod-less Jobs: (Job UID, when to read its Events next, the FailedCreate read).
        self._event_looks: dict[Key, tuple[str, datetime, str | None]] = {}
        self._pool_status: dict[Key, dict[str, Any]] = {}  # as last written
        self._pool_wanted: dict[Key, dict[str, Any]] = {}  # as the last pass counted
        # Verdicts, once per version of their inputs (uid and generation of each object).
        self._schema_verdicts: dict[Key, tuple[tuple[str, int], str | None]] = {}
        self._parameter_verdicts: dict[Key, tuple[tuple[object, ...], str | None]] = {}
        self.queue: WorkQueue[QueueKey] = WorkQueue(
            self.reconcile, name="runs", clock=clock, concurrency=concurrency
        )

    # -- watch events: the cache says which keys each one makes worth a look --------
    def _mark(self, keys: list[QueueKey]) -> None:
        for key in keys:
            self.queue.mark(key)

    def mark_pool(self, namespace: str, pool: str) -> None:
        self.queue.mark(("pool", namespace, pool))

    def run_event(self, event_type: str, body: dict[str, Any]) -> None:
        if event_type == "DELETED" and replaced(self.cache.runs.get(key_of(body)), body):
            return
        if event_type == "DELETED":
            self.queue.forget(("run", *key_of(body)))
            self._parameter_verdicts.pop(key_of(body), None)
            self._event_looks.pop(key_of(body), None)
        self._mark(self.cache.run_event(event_type, body))

    def flow_event(self, event_type: str, body: dict[str, Any]) -> None:
        if event_type == "DELETED" and replaced(self.cache.flows.get(key_of(body)), body):
            return
        if event_type == "DELETED":
            self._schema_verdicts.pop(key_of(body), None)
        else:
            self.queue.mark(("flow", *key_of(body)))
        self._mark(self.cache.flow_event(event_type, body))

    def deployment_event(self, event_type: str, body: dict[str, Any]) -> None:
        if event_type == "DELETED" and replaced(self.cache.deployments.get(key_of(body)), body):
            return
        self._mark(self.cache.deployment_event(event_type, body))

    def pool_event(self, event_type: str, body: dict[str, Any]) -> None:
        key = key_of(body)
        if event_type == "DELETED" and replaced(self.cache.pools.get(key), body):
            return
        if event_type == "DELETED":
            self._pool_status.pop(key, None)
            self._pool_wanted.pop(key, None)
            self.queue.forget(("pool-status", *key))
            metrics.forget_pool(*key)
        else:
            self._pool_status.setdefault(key, body.get("status") or {})
        self._mark(self.cache.pool_event(event_type, body))

    def job_event(self, event_type: str, body: dict[str, Any]) -> None:
        self._mark(self.cache.job_event(event_type, body))

    def pod_event(self, event_type: str, body: dict[str, Any]) -> None:
        self._mark(self.cache.pod_event(event_type, body))

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, key: QueueKey) -> datetime | None:
        kind, namespace, name = key
        if kind == "pool":
            return await self._admit(namespace, name)
        if kind == "pool-status":
            return await self._write_pool_status((namespace, name))
        if kind == "flow":
            await self._write_flow_status((namespace, name))
            return None
        return await self._follow((namespace, name))

    async def _write(self, run: FlowRun, step: Step, now: datetime) -> bool:
        patch = status_patch(run, step, now)
        if not patch:
            return True
        try:
            updated = await self._client.patch_status(
                FLOWRUNS, run.name, run.namespace, {"status": patch}
            )
        except NotFound:
            return False
        self.cache.runs[(run.namespace, run.name)] = updated
        if "state" in patch:
            metrics.STATE_TRANSITIONS.labels(run.namespace, patch["state"]).inc()
            if patch["state"] in TERMINAL_STATES and run.status.state not in TERMINAL_STATES:
                self._count_finished(run, step, now)
        if "state" in patch and patch["state"] != (run.status.state or None):
            self._events.record(
                updated["metadata"],
                events.STATE_CHANGED,
                f"{run.status.state or 'New'} -> {patch['state']}: {step.message}"[:1000],
                kind="FlowRun",
                warning=patch["state"] in ("Failed", "Crashed", "TimedOut"),
            )
        return True

    @staticmethod
    def _count_finished(run: FlowRun, step: Step, now: datetime) -> None:
        """Runs by final state and the run-duration histogram, once per run."""
        started, ended = step.fields.get("startTime"), step.fields.get("endTime")
        if not isinstance(started, datetime):
            started = run.status.start_time or (
                run.status.runtime.start_time if run.status.runtime else None
            )
        if not isinstance(ended, datetime):
            ended = now
        assert step.state is not None
        metrics.run_finished(
            run.namespace,
            run.spec.deployment_ref.name if run.spec.deployment_ref else None,
            step.state.value,
            (ended - started).total_seconds() if started else None,
        )

    @staticmethod
    def parameters(run: FlowRun, deployment: Deployment | None) -> dict[str, Any]:
        return merge_parameters(
            deployment.spec.parameters if deployment else None, run.spec.parameters
        )

    def _preflight(
        self,
        run: FlowRun,
        deployment: Deployment | None,
        flow: Flow | None,
        missing: str | None,
        *,
        pool: WorkPool | None,
        pool_name: str,
        now: datetime,
    ) -> Step | None:
        """A step for a waiting run that cannot compete for a slot yet, or None if it can."""
        if run.spec.cancel_requested:
            return Step(
                state=RunState.CANCELLED,
                reason=CANCEL_REQUESTED,
                message="cancelled before it started",
                fields={"endTime": now},
            )
        if pool is None:
            missing = missing or f"WorkPool {pool_name!r} not found"
        if missing or flow is None:
            return Step(
                state=run.status.state or RunState.SCHEDULED,
                reason=MISSING,
                message=f"waiting: {missing}",
            )
        assert pool is not None
        refused = job_variable_problems(deployment.spec, pool.spec) if deployment else []
        if refused:
            return Step(
                state=RunState.FAILED,
                reason=JOB_VARIABLES_REFUSED,
                message=f"no Job created: {refused[0].message}",
                fields={"endTime": now},
            )
        schema_problem = self.schema_problem(flow)
        if schema_problem:
            return Step(
                state=RunState.FAILED,
                reason=INVALID_PARAMETER_SCHEMA,
                message=f"Flow {flow.name!r}: {schema_problem}",
                fields={"endTime": now},
            )
        problem = self._invalid_parameters(run, deployment, flow)
        if problem:
            return Step(
                state=RunState.FAILED,
                reason=INVALID_PARAMETERS,
                message=problem,
                fields={"endTime": now},
            )
        scheduled = run.spec.scheduled_time or run.created_at
        if scheduled > now:
            return Step(
                state=RunState.SCHEDULED,
                reason="Scheduled",
                message=f"scheduled for {_stamp(scheduled)}",
                wake_at=scheduled,
            )
        return None

    async def _confirm_missing_pool(
        self, namespace: str, pool_name: str, now: datetime
    ) -> datetime | None:
        """Runs wait for a pool the cache lacks: ask the API server, again every few seconds.

        A watch can miss an object's ADDED: after the CRDs are deleted and created again,
        kopf re-resolves the resource and starts its watch late (seen in 1 of 3 runs of
        test_objects_removed.py: the pool existed, its runs waited "not found" for good).
        One GET per pool every ``MISSING_POOL_RECHECK`` while runs wait for it.
        """
        try:
            body = await self._client.get(WORKPOOLS, pool_name, namespace)
        except NotFound:
            return now + MISSING_POOL_RECHECK
        except ApiError as error:
            logger.warning("could not read WorkPool %s/%s: %s", namespace, pool_name, error)
            return now + MISSING_POOL_RECHECK
        self.pool_event("ADDED", body)
        return None

    async def _admit(self, namespace: str, pool_name: str) -> datetime | None:
        """One admission pass over a pool: start what may start, explain what waits."""
        now = self._clock()
        pool = self.cache.model(WorkPool, self.cache.pools, (namespace, pool_name))
        view = _PoolView()
        slice_end = time.monotonic() + PASS_SLICE_SECONDS
        for key, body in list(self.cache.runs_of_pool(namespace, pool_name)):
            if time.monotonic() > slice_end:
                # Checking parameters is bounded per run, not per pool: let other
                # namespaces' work in between (the list above is this pass's snapshot).
                await asyncio.sleep(0)
                slice_end = time.monotonic() + PASS_SLICE_SECONDS
                if self.cache.runs.get(key) is not body:
                    continue  # changed meanwhile: its own event marked the pool again
            self._classify(key, body, pool=pool, pool_name=pool_name, now=now, view=view)
        await asyncio.gather(*view.writes)
        if pool is None:
            if not self.cache.runs_of_pool(namespace, pool_name):
                return None
            return await self._confirm_missing_pool(namespace, pool_name, now)
        # Only the waiting runs' Deployments matter (their limits and pauses).
        deployments = {
            name: d.spec
            for name in {c.deployment for c in view.waiting if c.deployment}
            if (d := self.cache.model(Deployment, self.cache.deployments, (namespace, name)))
        }
        plan = plan_admission(pool.spec, view.waiting, view.active, deployments)
        writes: list[Coroutine[Any, Any, object]] = [
            self._start(pool, *view.runs[key], now) for key in plan.admit
        ]
        for key, (reason, message) in plan.wait.items():
            run, deployment, _ = view.runs[key]
            scheduled = run.spec.scheduled_time or run.created_at
            late_after = timedelta(seconds=deployment.spec.late_after_seconds if deployment else 15)
            state = RunState.LATE if now >= scheduled + late_after else RunState.SCHEDULED
            if state == RunState.SCHEDULED:
                view.wake.append(scheduled + late_after)
            writes.append(self._write(run, Step(state=state, reason=reason, message=message), now))
        for key, message in plan.cancel_new.items():
            step = Step(
                state=RunState.CANCELLED,
                reason=LIMIT_REACHED,
                message=message,
                fields={"endTime": now},
            )
            writes.append(self._write(view.runs[key][0], step, now))
        writes.extend(self._replace(key, now) for key in plan.cancel_old)
        await asyncio.gather(*writes)
        running, queued = len(view.active) + len(plan.admit), len(plan.wait)
        metrics.POOL_ACTIVE.labels(namespace, pool_name).set(running)
        metrics.POOL_QUEUED.labels(namespace, pool_name).set(queued)
        # The counts are a summary: written a moment later, once per burst of passes,
        # so the pass (and the runs waiting for the next one) never waits on it.
        self._pool_wanted[(namespace, pool_name)] = {
            "running": running,
            "queued": queued,
            "observedGeneration": pool.generation,
        }
        self.queue.soon(("pool-status", namespace, pool_name), POOL_STATUS_DELAY)
        return min(view.wake, default=None)

    def _classify(
        self,
        key: Key,
        body: dict[str, Any],
        *,
        pool: WorkPool | None,
        pool_name: str,
        now: datetime,
        view: _PoolView,
    ) -> None:
        """Sort one run of the pool into active, waiting, or settled right here."""
        state = (body.get("status") or {}).get("state")
        if state in TERMINAL_STATES and not self.cache.job_running(key):
            return  # the common case, decided without parsing the whole object
        run = self.cache.parse(FlowRun, key, body)
        if run is None:
            return
        dep_name = run.spec.deployment_ref.name if run.spec.deployment_ref else None
        if run.status.state in ADMITTED or run.status.state in TERMINAL_STATES:
            # A finished run whose pod is still exiting keeps its slot until the Job ends,
            # so a limit is never exceeded even for a moment.
            started = run.status.state_time or run.status.start_time or now
            view.active.append(
                ActiveRun(key, dep_name, started, run.status.state == RunState.CANCELLING)
            )
            return
        if run.status.state not in WAITING:
            return
        deployment, flow, missing = self.cache.resolve(run)
        step = self._preflight(
            run, deployment, flow, missing, pool=pool, pool_name=pool_name, now=now
        )
        if step is not None:
            view.writes.append(self._write(run, step, now))
            if step.wake_at:
                view.wake.append(step.wake_at)
            return
        view.runs[key] = (run, deployment, flow)
        view.waiting.append(Candidate(key, dep_name, run.spec.scheduled_time or run.created_at))

    async def _replace(self, key: Key, now: datetime) -> bool:
        """CancelOld: stop an older run to make room for a newer one."""
        victim = self.cache.model(FlowRun, self.cache.runs, key)
        if victim is None:
            return False
        written = await self._write(
            victim,
            Step(
                state=RunState.CANCELLING,
                reason=REPLACED,
                message="cancelled to make room for a newer run",
                delete_job=True,
            ),
            now,
        )
        await self._delete_job(victim)
        self.queue.mark(("run", *key))
        return written

    def schema_problem(self, flow: Flow) -> str | None:
        """What is wrong with the Flow's ``parameterSchema`` (checked once per generation)."""
        key = (flow.namespace, flow.name)
        version = (flow.uid, flow.generation)
        cached = self._schema_verdicts.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        verdict = schema_validation.check_parameter_schema(flow.spec.parameter_schema)
        self._schema_verdicts[key] = (version, verdict)
        return verdict

    def _invalid_parameters(
        self, run: FlowRun, deployment: Deployment | None, flow: Flow
    ) -> str | None:
        """The run's parameters against the Flow's schema, once per version of the three."""
        key = (run.namespace, run.name)
        version: tuple[object, ...] = tuple(
            (obj.metadata.get("uid"), obj.generation) if obj else None
            for obj in (run, deployment, flow)
        )
        cached = self._parameter_verdicts.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        verdict = schema_validation.parameter_problems(
            flow.spec.parameter_schema, self.parameters(run, deployment)
        )
        self._parameter_verdicts[key] = (version, verdict)
        return verdict

    async def _write_flow_status(self, key: Key) -> None:
        """The Flow's ``Ready`` condition: is its ``parameterSchema`` usable?"""
        flow = self.cache.model(Flow, self.cache.flows, key)
        if flow is None:
            return
        problem = self.schema_problem(flow)
        previous = next((c for c in flow.status.conditions if c.type == "Ready"), None)
        ready = condition(
            "Ready",
            "False" if problem else "True",
            INVALID_PARAMETER_SCHEMA if problem else events.PARAMETER_SCHEMA_VALID,
            problem or "parameterSchema is valid",
            generation=flow.generation,
            previous=previous,
            now=self._clock(),
        )
        if (
            previous is not None
            and flow.status.observed_generation == flow.generation
            and (previous.status.value, previous.reason, previous.message)
            == (ready["status"], ready["reason"], ready["message"])
        ):
            return
        try:
            updated = await self._client.patch_status(
                FLOWS,
                flow.name,
                flow.namespace,
                {"status": {"observedGeneration": flow.generation, "conditions": [ready]}},
                priority=REPORT,
            )
        except NotFound:
            return
        self.cache.flow_event("MODIFIED", updated)
        if problem:
            self._events.record(
                flow.metadata, INVALID_PARAMETER_SCHEMA, problem, kind="Flow", warning=True
            )

    async def _start(
        self,
        pool: WorkPool,
        run: FlowRun,
        deployment: Deployment | None,
        flow: Flow | None,
        now: datetime,
    ) -> None:
        assert flow is not None
        attempt = run.status.attempts + 1
        fields: dict[str, Any] = {"attempts": attempt, "workPool": pool.name}
        if pool.spec.type == PoolType.PROCESS:
            fields["worker"] = None  # a new attempt is up for grabs again
            step = Step(
                state=RunState.PENDING,
                reason=CLAIMABLE,
                message=f"waiting for a worker of pool {pool.name!r}",
                fields=fields,
            )
            await self._write(run, step, now)
            return
        manifest = build_job(
            run,
            flow,
            pool,
            deployment,
            attempt=attempt,
            parameters=self.parameters(run, deployment),
        )
        try:
            await self._client.create(JOBS, manifest, run.namespace)
        except AlreadyExists:
            # Ours from an earlier pass (a restart between create and status write), or
            # someone else's under the name we need: only the owner UID tells.
            problem = await self._foreign_job(run, manifest["metadata"]["name"])
            if problem is not None:
                await self._write(run, problem, now)
                if problem.state not in TERMINAL_STATES:
                    self.queue.soon(("pool", run.namespace, pool.name), NAME_HELD_RETRY)
                return
        except ApiError as error:
            await self._write(
                run,
                Step(
                    state=RunState.FAILED,
                    reason="JobRejected",
                    message=f"the Job was rejected: {error.message}",
                    fields={"endTime": now},
                ),
                now,
            )
            return
        fields["jobName"] = manifest["metadata"]["name"]
        since = run.spec.scheduled_time or run.created_at
        metrics.JOB_CREATION_LATENCY.observe(max(0.0, (now - since).total_seconds()))
        await self._write(
            run,
            Step(
                state=RunState.PENDING,
                reason=SUBMITTED,
                message=f"Job {fields['jobName']} created",
                fields=fields,
            ),
            now,
        )

    async def _foreign_job(self, run: FlowRun, name: str) -> Step | None:
        """None if Job ``name`` is this run's; otherwise what the run does instead.

        A Job owned by a deleted FlowRun of the same name (a run deleted and re-created
        while its Job lives) is never adopted: the run waits, and retries, until the
        garbage collector has removed it, which it does for any Job whose owner UID no
        longer exists. Any other Job under the name fails the run.
        """
        try:
            job = await self._client.get(JOBS, name, run.namespace)
        except NotFound:
            job = None  # deleted since: the next pass creates it
        if job is not None and controlled_by(job, run.uid):
            return None
        if job is None or namesake_job(job, run):
            return Step(
                state=run.status.state or RunState.SCHEDULED,
                reason=JOB_NAME_HELD,
                message=f"waiting: Job {name!r} still belongs to a deleted FlowRun "
                f"{run.name!r} (another UID) and is being removed",
            )
        return Step(
            state=RunState.FAILED,
            reason=JOB_NAME_TAKEN,
            message=f"a Job named {name!r} exists that this run does not own; "
            "it was left alone and no Job was started",
            fields={"endTime": self._clock()},
        )

    async def _delete_job(self, run: FlowRun) -> None:
        """Delete the current attempt's Job: only one this run owns, matched by UID."""
        job = self.cache.jobs.get((run.namespace, run.name))
        if not controlled_by(job, run.uid):
            name = job_name(run.name, max(1, run.status.attempts))
            try:
                job = await self._client.get(JOBS, name, run.namespace)
            except NotFound:
                return
            if not controlled_by(job, run.uid):
                return  # not ours, whatever its name or labels say
        assert job is not None
        with contextlib.suppress(NotFound, Conflict):  # Conflict: the name was reused
            await self._client.delete(
                JOBS,
                job["metadata"]["name"],
                run.namespace,
                propagation="Foreground",
                uid=job["metadata"].get("uid"),
            )

    async def _follow(self, key: Key, *, confirmed: bool = False) -> datetime | None:
        body = self.cache.runs.get(key)
        if body is None:
            return None
        run = self.cache.parse(FlowRun, key, body)
        if run is None:
            return None
        if run.status.state in TERMINAL_STATES or run.status.state not in ADMITTED:
            if run.status.state in WAITING and run.spec.cancel_requested:
                self.mark_pool(key[0], self.cache.pool_of(body))
            return None
        now = self._clock()
        pool = self.cache.model(WorkPool, self.cache.pools, (key[0], self.cache.pool_of(body)))
        # The current attempt's Job: named after run and attempt, and owned by this
        # run's UID (a Job of a deleted namesake, or anyone else's, is not it).
        job = self.cache.jobs.get(key)
        expected = job_name(run.name, max(1, run.status.attempts))
        if job is not None and (
            job["metadata"]["name"] != expected or not controlled_by(job, run.uid)
        ):
            job = None
        is_process = pool is not None and pool.spec.type == PoolType.PROCESS
        if job is None and not is_process:
            self._job_missing_since.setdefault(key, now)
        else:
            self._job_missing_since.pop(key, None)
        deployment = (
            self.cache.model(
                Deployment, self.cache.deployments, (key[0], run.spec.deployment_ref.name)
            )
            if run.spec.deployment_ref
            else None
        )
        crash_retries = deployment.spec.crash_retries if deployment else 0
        if is_process:
            assert pool is not None
            step = follow_process(
                run,
                self.cache.heartbeats(pool),
                now,
                timing=self.timing,
                heartbeat_timeout=timedelta(seconds=pool.spec.heartbeat_timeout_seconds),
            )
        else:
            pod = self.cache.pods.get(key)
            if pod is not None and (
                (pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL) != expected
                or (job is not None and not controlled_by(pod, job["metadata"].get("uid", "")))
            ):
                pod = None  # an earlier attempt's pod, or not the Job's
            failed_create, look_at = await self._failed_create(key, job, pod, now)
            timeout = pool.spec.startup_timeout_seconds if pool else None
            step = follow(
                run,
                job,
                pod,
                now,
                timing=self.timing,
                crash_retries=crash_retries,
                job_missing_since=self._job_missing_since.get(key),
                failed_create=failed_create,
                startup_timeout=timedelta(seconds=timeout) if timeout else None,
            )
            if look_at is not None and step.state not in TERMINAL_STATES:
                step.wake_at = min(filter(None, (step.wake_at, look_at)))
        # A verdict the runtime did not give (Crashed, WorkerLost...) rests on our cache
        # lacking its final report; after an API server restart the FlowRun watch may
        # lag the Job's. Read the run itself once before ending it.
        unreported = (step.state in TERMINAL_STATES or step.new_attempt) and (
            step.reason != REPORTED
        )
        if unreported and not confirmed and await self._refreshed(key, body):
            return await self._follow(key, confirmed=True)
        if step.delete_job and not is_process:
            await self._delete_job(run)
        await self._write(run, step, now)
        if step.state in TERMINAL_STATES or step.new_attempt:
            # A finished run frees a slot; a crashed one with retries left queues again.
            self._job_missing_since.pop(key, None)
            self._event_looks.pop(key, None)
            self.mark_pool(key[0], self.cache.pool_of(body))
        return step.wake_at

    async def _failed_create(
        self, key: Key, job: dict[str, Any] | None, pod: dict[str, Any] | None, now: datetime
    ) -> tuple[str | None, datetime | None]:
        """The Job's newest FailedCreate message while it has no pod, and when to look next.

        Events are the only place the Job controller says why it created no pod; they are
        read by the Job's UID, for pod-less Jobs only, on the schedule of
        ``startup.next_event_look`` (startup.py).
        """
        if job is None or not needs_event_look(job, pod):
            self._event_looks.pop(key, None)
            return None, None
        uid = str(job["metadata"].get("uid", ""))
        began = startup_began(job, None) or now
        seen = self._event_looks.get(key)
        if seen is not None and seen[0] == uid and now < seen[1]:
            return seen[2], seen[1]
        if seen is None and now < began + FIRST_EVENT_LOOK:
            return None, began + FIRST_EVENT_LOOK
        try:
            events = await self._client.list(
                CORE_EVENTS,
                key[0],
                field_selector=f"involvedObject.uid={uid},reason={FAILED_CREATE}",
            )
        except ApiError as error:
            logger.warning("reading the Events of Job %s/%s failed: %s", key[0], uid, error)
            events = []
        message = latest_failed_create(events) or (seen[2] if seen and seen[0] == uid else None)
        look_at = next_event_look(began, now)
        self._event_looks[key] = (uid, look_at, message)
        return message, look_at

    async def _refreshed(self, key: Key, cached: dict[str, Any]) -> bool:
        """Replace the cached run by the API server's if it is newer; True if it was."""
        try:
            live: dict[str, Any] = await self._client.get(FLOWRUNS, key[1], key[0])
        except NotFound:
            return False  # deleted meanwhile: the watch will say so
        if live["metadata"].get("resourceVersion") == cached["metadata"].get("resourceVersion"):
            return False
        self.cache.run_event("MODIFIED", live)
        return True

    async def _write_pool_status(self, key: Key) -> datetime | None:
        """The pool's counts and Ready condition; returns when Ready may change by itself."""
        counts = self._pool_wanted.get(key)
        pool = self.cache.model(WorkPool, self.cache.pools, key)
        if counts is None or pool is None:
            return None
        current = self._pool_status.get(key, {})
        now = self._clock()
        readiness = pool_readiness(pool.name, pool.spec, self.cache.heartbeats(pool), now)
        previous = next(
            (
                Condition.model_validate(c)
                for c in current.get("conditions") or []
                if c.get("type") == "Ready" and c.get("lastTransitionTime")
            ),
            None,
        )
        ready = condition(
            "Ready",
            readiness.status,
            readiness.reason,
            readiness.message,
            generation=pool.generation,
            previous=previous,
            now=now,
        )
        wanted = {**counts, "conditions": [ready]}
        if all(current.get(k) == v for k, v in wanted.items()):
            return readiness.recheck_at
        try:
            await self._client.patch_status(
                WORKPOOLS, key[1], key[0], {"status": wanted}, priority=REPORT
            )
        except NotFound:
            return None
        self._pool_status[key] = {**current, **wanted}
        return readiness.recheck_at
