"""The kopf application: settings, watch handlers, and the scheduler's lifetime.

Run it with ``baton operator`` or ``kopf run -m baton.controller.app --all-namespaces``.
Handlers here are thin: they hand each watch event to the scheduler, which decides.
The operator only ever writes ``status`` of users' objects (and creates FlowRuns), so
its handlers are ``on.event`` ones: kopf adds no finalizers or annotations to them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import kopf

from baton._kube import config
from baton._kube.client import FLOWRUNS, JOBS, PODS, AsyncKubeClient, KubeClient
from baton.contract import GROUP, MANAGED_BY, VERSION, selector
from baton.controller import crds, events, metrics, readiness
from baton.controller.leader import LeaderElector, LeaseConfig, StandbyProbe
from baton.controller.lifecycle import Timing
from baton.controller.reflector import reflect
from baton.controller.runs import RunController
from baton.controller.scheduler import Scheduler
from baton.controller.stopping import Stopping, run_in_thread

#: kopf's own annotations and finalizer (``PREFIX/...``) are in Baton's API group.
PREFIX = GROUP
#: Exit status when the leader Lease is lost (the kubelet restarts the process).
LEASE_LOST_EXIT = 70
#: Giving the Lease up on the way out is a courtesy (it expires anyway); an outage must
#: not spend the stop bound on it.
RELEASE_BUDGET_SECONDS = 2.0


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """kopf's watches use the credentials Baton's own client uses (``baton._kube.config``).

    One loader for both, so the operator needs neither the ``kubernetes`` package nor
    pykube (kopf would otherwise pick whichever is installed). kopf calls this again
    when the API server answers 401, which re-reads a rotated projected token.
    """
    credentials = config.load()
    token = credentials.bearer()
    inline = None if credentials.cert_file else credentials.client_certificate()
    plugin = credentials.exec_plugin
    _readiness(memo).hold("login")
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_path=credentials.ca_file,
        ca_data=credentials.ca_data,
        insecure=credentials.insecure,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=credentials.cert_file,
        private_key_path=credentials.key_file,
        certificate_data=inline[0] if inline else None,
        private_key_data=inline[1] if inline else None,
        default_namespace=credentials.namespace,
        # An exec plugin's credential expires: kopf logs in again (this handler) by then.
        expiration=plugin.credential().expires if plugin else None,
    )


@kopf.on.startup(backoff=5)
async def configure(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """All kopf settings in one place, then the scheduler, seeded with the existing runs."""
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Baton records its own Events with stable reasons; kopf's log-to-event is noise.
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.error_backoffs = [1, 2, 5, 10]
    # On stop, per-object workers get this long to finish their queue (kopf's default is
    # 2 s). Handlers only hand events on, and the next leader lists everything again.
    settings.queueing.exit_timeout = 0.5

    # With leader election, writes wait while this process does not hold the Lease.
    client = AsyncKubeClient(fence=getattr(memo, "fence", None), observer=metrics.observe_request)
    recorder = events.Recorder(client)
    scheduler = Scheduler(client, recorder)
    runs = RunController(client, recorder, timing=timing_from_env())
    managed = selector(MANAGED_BY)
    namespaces = getattr(memo, "namespaces", None) or None
    ready = _readiness(memo)
    try:
        if getattr(memo, "upgrade_crds", False):
            # Before any list or watch: the new fields must not be pruned (crds.py).
            await crds.upgrade_crds(client)
        # Per watched namespace when there are some: the chart's RBAC is then namespaced.
        for scope in namespaces or [None]:
            for run in await client.list(FLOWRUNS, scope, label_selector=managed):
                scheduler.flow_run_event("ADDED", run)
    except Exception as error:  # kopf retries the handler; /readyz says why meanwhile
        await client.aclose()
        ready.lose("startup", f"start-up failed: {error}")
        raise
    memo.client = client
    memo.scheduler = scheduler
    memo.runs = runs
    memo.recorder = recorder
    memo.tasks = [
        asyncio.create_task(recorder.run(), name="baton-events"),
        asyncio.create_task(scheduler.run(), name="baton-scheduler"),
        asyncio.create_task(runs.queue.run(), name="baton-runs"),
        asyncio.create_task(
            reflect(client, JOBS, managed, runs.job_event, namespaces=namespaces, readiness=ready),
            name="baton-jobs",
        ),
        asyncio.create_task(
            reflect(client, PODS, managed, runs.pod_event, namespaces=namespaces, readiness=ready),
            name="baton-pods",
        ),
    ]
    ready.add_check("loops", lambda: _dead_loops(memo))
    ready.hold("startup")
    logger.info("baton operator configured")


def _readiness(memo: kopf.Memo) -> readiness.Readiness:
    """The operator's readiness facts (a fresh, unserved set when run without ``run()``)."""
    if getattr(memo, "readiness", None) is None:
        memo.readiness = new_readiness()
    ready: readiness.Readiness = memo.readiness
    return ready


def new_readiness() -> readiness.Readiness:
    """The facts every replica must hold before it is ready (see readiness.py).

    The Job and pod watches add their own facts when they start (reflector.py).
    """
    ready = readiness.Readiness()
    ready.require("login", "not signed in to the API server yet")
    ready.require("startup", "start-up (CRD upgrade, listing FlowRuns) not finished")
    return ready


def _dead_loops(memo: kopf.Memo) -> str | None:
    dead = [t.get_name() for t in getattr(memo, "tasks", []) if t.done()]
    return f"operator loops stopped: {', '.join(dead)}" if dead else None


def timing_from_env() -> Timing:
    """Grace periods, overridable for tests and impatient clusters."""

    def seconds(name: str, default: float) -> timedelta:
        return timedelta(seconds=float(os.environ.get(name, default)))

    defaults = Timing()
    return Timing(
        report_grace=seconds("BATON_REPORT_GRACE_SECONDS", defaults.report_grace.total_seconds()),
        cancel_grace=seconds("BATON_CANCEL_GRACE_SECONDS", defaults.cancel_grace.total_seconds()),
        startup_timeout=seconds(
            "BATON_STARTUP_TIMEOUT_SECONDS", defaults.startup_timeout.total_seconds()
        ),
    )


#: How long the cleanup handler waits for queued Events, then for the operator's own loops.
EVENTS_DRAIN_SECONDS = 1.0
CLEANUP_SECONDS = 3.0
#: kopf's watch streams wait on a task of this name; one stopped while it handled an event
#: leaves it behind (its async generator is never closed), and kopf then waits 5 s for
#: any task left before cancelling it: half the stop bound, in 5 of 8 mid-burst stops.
KOPF_PAUSE_WAITER = "pause-waiter for "


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    recorder = getattr(memo, "recorder", None)
    if recorder is not None:
        await recorder.drain(timeout=EVENTS_DRAIN_SECONDS)
    tasks: list[asyncio.Task[None]] = getattr(memo, "tasks", [])
    for task in tasks:
        task.cancel()
    if tasks:
        # Bounded: a loop that ignored its cancellation must not hold the stop up (kopf
        # cancels what is left once more, and stopping.py's deadline ends the process).
        _done, pending = await asyncio.wait(tasks, timeout=CLEANUP_SECONDS)
        if pending:
            names = ", ".join(sorted(t.get_name() for t in pending))
            logging.getLogger("baton.operator").warning("still stopping: %s", names)
    client = getattr(memo, "client", None)
    if client is not None:
        await client.aclose()
    for task in asyncio.all_tasks():
        if task.get_name().startswith(KOPF_PAUSE_WAITER):
            task.cancel()


@kopf.on.probe(id="loops")
def loops_alive(memo: kopf.Memo, **_: Any) -> bool:
    dead = _dead_loops(memo)
    if dead:
        raise kopf.PermanentError(dead)
    return True


# Handlers are coroutines on purpose: kopf runs plain functions in a thread pool, and
# the controllers' in-memory state belongs to the event loop's thread alone.
@kopf.on.event(GROUP, VERSION, "deployments")
async def deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.deployment_event(event.get("type") or "ADDED", event["object"])
    memo.runs.deployment_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "flowruns")
async def flow_run_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.flow_run_event(event.get("type") or "ADDED", event["object"])
    memo.runs.run_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "flows")
async def flow_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runs.flow_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "workpools")
async def work_pool_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.pool_event(event.get("type") or "ADDED", event["object"])
    memo.runs.pool_event(event.get("type") or "ADDED", event["object"])


def run(
    *,
    namespaces: list[str],
    liveness: str | None,
    readiness_endpoint: str | None = None,
    upgrade_crds: bool = False,
    verbose: bool = False,
    log_format: str = "json",
    metrics_port: int = 0,
    election: LeaseConfig | None = None,
) -> None:
    """Run the operator until interrupted (the ``baton operator`` command).

    With ``election``, the process first waits to hold the Lease (a hot standby meanwhile,
    answering its liveness probe), then runs kopf while a thread renews the Lease.
    SIGTERM or SIGINT, at any of these moments, ends the process within
    ``stopping.STOP_BOUND_SECONDS``.
    """
    stopping = Stopping()
    stopping.install()
    formats = {
        "json": kopf.LogFormat.JSON,
        "plain": kopf.LogFormat.PLAIN,
        "full": kopf.LogFormat.FULL,
    }
    kopf.configure(verbose=verbose, log_format=formats[log_format])
    # One line per API request is noise at INFO; failures are logged by Baton itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # kopf logs every successful handler call ("Handler 'x' succeeded.") at INFO: one
    # line per watch event, thousands a minute at scale. Failures stay visible.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    metrics.serve(metrics_port)
    ready = new_readiness()
    if readiness_endpoint:
        # Before kopf starts: the endpoint answers 503 while kopf signs in and starts.
        readiness.serve(ready, readiness_endpoint)
    if election is None:
        _run_kopf(namespaces, liveness, ready, upgrade_crds, stopping)
        return
    with KubeClient() as lease_client:
        elector = LeaderElector(lease_client, election)
        probe = StandbyProbe(liveness)
        # One flag: a signal stops the wait for the Lease, kopf and the renewals alike.
        stop = stopping.requested
        waiting = f"waiting for Lease {election.namespace}/{election.name}"

        lease_failed = False

        def heard(error: str | None) -> None:
            # Ready as a standby only while the Lease can be read and another holds it; a
            # Lease it cannot read (RBAC, an outage) makes it not ready, saying why.
            nonlocal lease_failed
            if error is None:
                ready.standby(f"{waiting}, held by {elector.holder() or '?'}")
            else:
                lease_failed = True
                ready.standby(None)
                ready.lose("lease", error)

        try:
            if not elector.acquire(stop, heard):
                return
            if lease_failed:
                ready.hold("lease")
        finally:
            ready.standby(None)
            probe.close()
        keeper = threading.Thread(
            target=elector.keep, args=(stop, _lost), name="baton-lease", daemon=True
        )
        keeper.start()
        try:
            _run_kopf(namespaces, liveness, ready, upgrade_crds, stopping, fence=elector.leading)
        finally:
            stop.set()
            keeper.join(timeout=1.0)
            _bounded(elector.release, RELEASE_BUDGET_SECONDS)


def _run_kopf(
    namespaces: list[str],
    liveness: str | None,
    ready: readiness.Readiness,
    upgrade_crds: bool,
    stopping: Stopping,
    *,
    fence: Callable[[], bool] | None = None,
) -> None:
    # standalone: kopf's own peering (freezing on a higher-priority peer) is off;
    # replicas are coordinated by the Lease in ``run``. kopf runs in a thread with the
    # stop flag, so the signals are Baton's (stopping.py), not kopf's.
    def operate() -> None:
        loop = asyncio.new_event_loop()
        stopping.watch(loop)
        try:
            kopf.run(
                loop=loop,
                standalone=True,
                clusterwide=not namespaces,
                namespaces=namespaces,
                liveness_endpoint=liveness,
                stop_flag=stopping.requested,
                memo=kopf.Memo(
                    namespaces=namespaces, readiness=ready, upgrade_crds=upgrade_crds, fence=fence
                ),
            )
        finally:
            loop.close()

    run_in_thread(operate, stopping)


def _bounded(action: Callable[[], None], seconds: float) -> None:
    """Run ``action`` for at most ``seconds``; past that it is left behind (a daemon)."""
    worker = threading.Thread(target=action, name="baton-bounded", daemon=True)
    worker.start()
    worker.join(timeout=seconds)


def _lost() -> None:
    """The Lease could not be renewed in time: stop acting now, before a standby takes over.

    Exiting is client-go's answer too: no half-stopped leader keeps writing while the next
    one starts. The kubelet restarts the process, which then waits as a standby.
    """
    logging.getLogger("baton.leader").error("leader Lease lost: exiting")
    logging.shutdown()
    os._exit(LEASE_LOST_EXIT)
