"""What the run controller knows: the watched objects, indexed, and who to look at next.

Watch events land here. Each intake method updates the copies and the indexes and
returns the work-queue keys the event makes worth reconciling — ``("run", ns, name)`` or
``("pool", ns, name)`` — so the controller never scans every run for one event: status
writes to a Deployment (thousands a minute at scale) cost a dictionary lookup, and a
pod event finds its run through the Job-name index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, TypeVar

import pydantic

from baton.contract import ACTIVE_STATES
from baton.resources import Deployment, Flow, FlowRun, RunState, WorkPool
from baton.resources.deployment import work_pool_of

Key = tuple[str, str]  # (namespace, name)
QueueKey = tuple[str, str, str]  # ("run" | "pool" | "pool-status", namespace, name)
Body = dict[str, Any]
M = TypeVar("M", bound=pydantic.BaseModel)

ADMITTED = ACTIVE_STATES
WAITING = {None, RunState.SCHEDULED, RunState.LATE, RunState.AWAITING_RETRY}
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def key_of(body: Body) -> Key:
    return body["metadata"]["namespace"], body["metadata"]["name"]


def replaced(cached: Body | None, deleted: Body) -> bool:
    """A DELETED event for an object whose name now belongs to a newer one (another UID).

    Watches of different objects are not ordered with each other: when a CRD is deleted
    and re-created, the old objects' DELETED events can arrive after the new objects'
    ADDED. Applied by name, they would drop the new object from the cache.
    """
    old = (deleted.get("metadata") or {}).get("uid")
    current = ((cached or {}).get("metadata") or {}).get("uid")
    return bool(old and current and old != current)


def _state(body: Body) -> str | None:
    return (body.get("status") or {}).get("state")


class ClusterCache:
    """In-memory copies of Flows, WorkPools, Deployments, FlowRuns, Jobs and pods."""

    def __init__(self) -> None:
        self.flows: dict[Key, Body] = {}
        self.pools: dict[Key, Body] = {}
        self.deployments: dict[Key, Body] = {}
        self.runs: dict[Key, Body] = {}
        self.jobs: dict[Key, Body] = {}  # by run key
        self.pods: dict[Key, Body] = {}  # by run key
        self._runs_by_pool: dict[Key, set[Key]] = defaultdict(set)
        self._pool_of_run: dict[Key, Key] = {}
        self._run_of_job: dict[Key, Key] = {}  # (ns, job name) -> run key
        # Parsed models by (model, key), each with the body it was parsed from. Watch
        # events replace bodies and never mutate them, so ``cached is body`` means the
        # parse is current: an admission pass over 1,000 runs parses only what changed.
        self._parsed: dict[tuple[type[Any], Key], tuple[Body, Any]] = {}

    # -- lookups --------------------------------------------------------------------
    def pool_of(self, run: Body) -> str:
        """The WorkPool a run belongs to, from its spec or its Deployment's (never status)."""
        namespace = run["metadata"]["namespace"]
        ref = ((run.get("spec") or {}).get("deploymentRef") or {}).get("name", "")
        return work_pool_of(run, self.deployments.get((namespace, ref)))

    def runs_of_pool(self, namespace: str, pool: str) -> list[tuple[Key, Body]]:
        keys = self._runs_by_pool.get((namespace, pool), set())
        return [(k, self.runs[k]) for k in list(keys) if k in self.runs]

    def model(self, model: type[M], cache: dict[Key, Body], key: Key) -> M | None:
        """The cached object at ``key`` as ``model``, or None if absent or invalid."""
        body = cache.get(key)
        return None if body is None else self.parse(model, key, body)

    def parse(self, model: type[M], key: Key, body: Body) -> M | None:
        """``model.model_validate(body)`` (None if invalid), once per body.

        Callers must treat the result as read-only: it is shared until the body changes.
        """
        hit = self._parsed.get((model, key))
        if hit is not None and hit[0] is body:
            parsed: M | None = hit[1]
            return parsed
        try:
            parsed = model.model_validate(body)
        except pydantic.ValidationError:
            parsed = None
        self._parsed[(model, key)] = (body, parsed)
        return parsed

    def _forget(self, model: type[Any], key: Key) -> None:
        self._parsed.pop((model, key), None)

    def resolve(self, run: FlowRun) -> tuple[Deployment | None, Flow | None, str | None]:
        """The run's Deployment and Flow, or a message naming what is missing."""
        ns = run.namespace
        deployment = None
        if run.spec.deployment_ref:
            deployment = self.model(
                Deployment, self.deployments, (ns, run.spec.deployment_ref.name)
            )
            if deployment is None:
                return None, None, f"Deployment {run.spec.deployment_ref.name!r} not found"
            flow_name = deployment.spec.flow_ref.name
        else:
            assert run.spec.flow_ref is not None
            flow_name = run.spec.flow_ref.name
        flow = self.model(Flow, self.flows, (ns, flow_name))
        if flow is None:
            return deployment, None, f"Flow {flow_name!r} not found"
        return deployment, flow, None

    def job_running(self, key: Key) -> bool:
        """The run's Job exists, is not being deleted, and has not finished."""
        job = self.jobs.get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return False
        conditions = (job.get("status") or {}).get("conditions") or []
        return not any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in conditions
        )

    @staticmethod
    def heartbeats(pool: WorkPool) -> dict[str, datetime]:
        return {w.name: w.last_heartbeat for w in pool.status.workers}

    # -- intake: each returns the keys worth reconciling ---------------------------
    def _index_run(self, key: Key, body: Body | None) -> Key | None:
        old = self._pool_of_run.pop(key, None)
        if old is not None:
            self._runs_by_pool[old].discard(key)
        if body is None:
            return old
        pool = (key[0], self.pool_of(body))
        self._pool_of_run[key] = pool
        self._runs_by_pool[pool].add(key)
        return pool

    def run_event(self, event_type: str, body: Body) -> list[QueueKey]:
        key = key_of(body)
        if event_type == "DELETED":
            self.runs.pop(key, None)
            self._forget(FlowRun, key)
            pool = self._index_run(key, None)
            return [("pool", *pool)] if pool else []
        self.runs[key] = body
        pool = self._index_run(key, body)
        assert pool is not None
        return [("run", *key), ("pool", *pool)]

    def _spec_changed(
        self, model: type[Any], cache: dict[Key, Body], event_type: str, body: Body
    ) -> bool:
        """Store ``body``; True unless only its status moved (same generation)."""
        key = key_of(body)
        old = cache.pop(key, None) if event_type == "DELETED" else cache.get(key)
        if event_type == "DELETED":
            self._forget(model, key)
        else:
            cache[key] = body
        if old is None or event_type == "DELETED":
            return True
        return bool(old["metadata"].get("generation") != body["metadata"].get("generation"))

    def _waiting_pools(self, namespace: str) -> list[QueueKey]:
        pools = {
            self._pool_of_run[k]
            for k, body in self.runs.items()
            if k[0] == namespace and _state(body) in WAITING and k in self._pool_of_run
        }
        return [("pool", *pool) for pool in pools]

    def flow_event(self, event_type: str, body: Body) -> list[QueueKey]:
        if not self._spec_changed(Flow, self.flows, event_type, body):
            return []
        return self._waiting_pools(body["metadata"]["namespace"])

    def deployment_event(self, event_type: str, body: Body) -> list[QueueKey]:
        # The scheduler writes every Deployment's status each fire time; only a changed
        # spec (limits, pause, pool) can change what waiting runs may do.
        if not self._spec_changed(Deployment, self.deployments, event_type, body):
            return []
        namespace, name = key_of(body)
        # A run seen before its Deployment was filed under the default pool (pool_of
        # had no Deployment to ask): file its runs again, or the default pool's pass
        # would admit them with the wrong pool's Job template.
        for key, run in list(self.runs.items()):
            ref = ((run.get("spec") or {}).get("deploymentRef") or {}).get("name")
            if key[0] == namespace and ref == name:
                self._index_run(key, run)
        return self._waiting_pools(namespace)

    def pool_event(self, event_type: str, body: Body) -> list[QueueKey]:
        key = key_of(body)
        if event_type == "DELETED":
            self.pools.pop(key, None)
            self._forget(WorkPool, key)
        else:
            self.pools[key] = body
        keys: list[QueueKey] = [("pool", *key)]
        # Worker heartbeats live in the pool's status: re-check its admitted runs.
        keys += [("run", *k) for k, run in self.runs_of_pool(*key) if _state(run) in ADMITTED]
        return keys

    def job_event(self, event_type: str, body: Body) -> list[QueueKey]:
        owner = next(
            (
                o["name"]
                for o in body.get("metadata", {}).get("ownerReferences") or []
                if o.get("kind") == "FlowRun"
            ),
            None,
        )
        if owner is None:
            return []
        namespace = body["metadata"]["namespace"]
        key = (namespace, owner)
        job_key = (namespace, body["metadata"]["name"])
        current = self.jobs.get(key)
        if event_type == "DELETED":
            self._run_of_job.pop(job_key, None)
            if current and current["metadata"]["name"] != job_key[1]:
                return []  # an older attempt's Job went away
            self.jobs.pop(key, None)
        else:
            self.jobs[key] = body
            self._run_of_job[job_key] = key
        keys: list[QueueKey] = [("run", *key)]
        pool = self._pool_of_run.get(key)
        if pool is not None:  # a finished Job may free a concurrency slot
            keys.append(("pool", *pool))
        return keys

    def pod_event(self, event_type: str, body: Body) -> list[QueueKey]:
        job = (body.get("metadata", {}).get("labels") or {}).get(JOB_NAME_LABEL)
        key = self._run_of_job.get((body["metadata"]["namespace"], job or ""))
        if key is None:
            return []
        if event_type == "DELETED":
            if (self.pods.get(key) or {}).get("metadata", {}).get("name") == body["metadata"][
                "name"
            ]:
                self.pods.pop(key, None)
        else:
            self.pods[key] = body
        return [("run", *key)]
