"""The worker's writes to the API server: claiming runs and heartbeating into the pool.

Both are optimistic-concurrency writes with a ``resourceVersion`` precondition, so two
workers (or a worker and the operator) can never both win:

* a **claim** merge-patches ``status.worker`` of a FlowRun at the version the worker read;
  a 409 means someone wrote first — re-read, and give up if another worker has it;
* a **heartbeat** rewrites ``status.workers`` of the WorkPool (a list, which a merge patch
  replaces whole), so it is read-modify-write at the pool's version, retried on 409.

The worker writes nothing else: FlowRun state belongs to the operator, and what the flow
reports (task runs, artifacts, result, error) to the runtime in the child process.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from baton._kube.client import (
    DEPLOYMENTS,
    FLOWRUNS,
    FLOWS,
    WORKPOOLS,
    Conflict,
    KubeClient,
    NotFound,
)
from baton.contract import TERMINAL_STATES, format_time
from baton.worker.claims import flow_name_of, heartbeat_timeout, is_claimable, updated_workers

logger = logging.getLogger("baton.worker")

Json = dict[str, Any]
CLAIM_ATTEMPTS = 3
HEARTBEAT_ATTEMPTS = 8


#: Runtime report states after which the flow process has nothing more to say.
FINAL_STATES = TERMINAL_STATES


class WorkerError(RuntimeError):
    """The worker cannot serve its pool; the message is shown to the user as is."""


class PoolApi:
    """Reads and writes of one worker for one pool in one namespace."""

    def __init__(self, client: KubeClient, namespace: str, pool: str, worker: str) -> None:
        self.client = client
        self.namespace = namespace
        self.pool = pool
        self.worker = worker

    def read_pool(self) -> Json:
        try:
            return self.client.get(WORKPOOLS, self.pool, self.namespace)
        except NotFound:
            raise WorkerError(
                f'work pool "{self.pool}" not found in namespace "{self.namespace}"'
            ) from None

    def check_pool(self) -> Json:
        """The pool, if it exists and is a process pool; else ``WorkerError``."""
        pool = self.read_pool()
        kind = (pool.get("spec") or {}).get("type", "kubernetes")
        if kind != "process":
            raise WorkerError(
                f'work pool "{self.pool}" has type {kind}: its runs are Jobs the operator '
                "starts; `baton worker` serves pools of type process"
            )
        return pool

    def resolve(self, run: Json) -> tuple[Json, Json | None]:
        """The run's Flow and Deployment (None for an ad-hoc run of a flowRef)."""
        spec = run.get("spec") or {}
        deployment = None
        if spec.get("deploymentRef"):
            name = spec["deploymentRef"]["name"]
            try:
                deployment = self.client.get(DEPLOYMENTS, name, self.namespace)
            except NotFound:
                raise WorkerError(f'deployment "{name}" not found') from None
        flow_name = flow_name_of(run, deployment)
        if not flow_name:
            raise WorkerError("the run names no flow")
        try:
            flow = self.client.get(FLOWS, flow_name, self.namespace)
        except NotFound:
            raise WorkerError(f'flow "{flow_name}" not found') from None
        return flow, deployment

    def claim(self, run: Json) -> Json | None:
        """Write ``status.worker`` at the version read; the claimed run, or None if lost."""
        name = run["metadata"]["name"]
        body = run
        for _ in range(CLAIM_ATTEMPTS):
            patch = {
                "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
                "status": {"worker": self.worker},
            }
            try:
                return self.client.patch_status(FLOWRUNS, name, self.namespace, patch)
            except NotFound:
                return None
            except Conflict:
                try:
                    body = self.client.get(FLOWRUNS, name, self.namespace)
                except NotFound:
                    return None
                if not is_claimable(body, self.pool):
                    return None  # another worker has it, or it was cancelled meanwhile
        return None

    def report_exit(self, name: str, attempt: int, code: int) -> bool:
        """Report a child that exited without a final report as Crashed; True if it did.

        For process pools the worker plays the kubelet: when the flow process dies
        (segfault, OOM kill, SIGKILL) before the runtime could write its final state, the
        worker writes the runtime report the process never could. A final report
        already present for this attempt is left alone.
        """
        try:
            run = self.client.get(FLOWRUNS, name, self.namespace)
        except NotFound:
            return False
        runtime = (run.get("status") or {}).get("runtime") or {}
        if runtime.get("attempt") == attempt and runtime.get("state") in FINAL_STATES:
            return False
        how = f"signal {-code}" if code < 0 else f"code {code}"
        stamp = format_time(datetime.now(UTC))
        report = {
            "state": "Crashed",
            "attempt": attempt,
            "timestamp": stamp,
            "endTime": stamp,
            "message": f"the flow process exited with {how} on worker {self.worker} "
            "without reporting a final state",
        }
        try:
            self.client.patch_status(
                FLOWRUNS, name, self.namespace, {"status": {"runtime": {**runtime, **report}}}
            )
        except NotFound:
            return False
        return True

    def heartbeat(self, running: int, *, leaving: bool = False) -> int | None:
        """Record this worker in ``status.workers`` (or remove it); the pool's timeout."""
        for _ in range(HEARTBEAT_ATTEMPTS):
            try:
                pool = self.client.get(WORKPOOLS, self.pool, self.namespace)
            except NotFound:
                logger.warning("work pool %r is gone; heartbeat skipped", self.pool)
                return None
            timeout = heartbeat_timeout(pool)
            entries = updated_workers(
                (pool.get("status") or {}).get("workers") or [],
                self.worker,
                now=datetime.now(UTC),
                running=running,
                timeout_seconds=timeout,
                leaving=leaving,
            )
            patch = {
                "metadata": {"resourceVersion": pool["metadata"]["resourceVersion"]},
                "status": {"workers": entries},
            }
            try:
                self.client.patch_status(WORKPOOLS, self.pool, self.namespace, patch)
                return timeout
            except NotFound:
                return None
            except Conflict:
                continue
        logger.warning("heartbeat to pool %r lost %d races in a row", self.pool, HEARTBEAT_ATTEMPTS)
        return None
