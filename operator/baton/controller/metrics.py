"""Prometheus metrics of the operator, served on ``/metrics``.

Names follow Prometheus' conventions (``baton_`` prefix, base units — seconds — in the
name, ``_total`` counters, ``_info`` for the build) and, for the per-Deployment schedule
series, kube-state-metrics' CronJob series (``kube_cronjob_next_schedule_time`` and
friends). Label sets are bounded by objects that exist: ``namespace`` and ``deployment``
(or ``pool``) name an object, ``state`` is one of the terminal states, ``verb`` and
``resource`` come from a fixed set of API calls, ``queue`` is one of the two controllers.
A Deployment's or WorkPool's series are removed when the object is deleted, so a
cluster with churn does not grow the scrape forever. docs/operator.md lists every series.

Values are set where the decisions are applied (scheduler, run controller, work queue,
API client); nothing here decides anything.
"""

from __future__ import annotations

import platform
import re
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from baton import __version__
from baton.resources.flowrun import TERMINAL_STATES

BUILD_INFO = Gauge(
    "baton_build_info",
    "Always 1; the labels say which Baton and Python the operator runs.",
    ["version", "python_version"],
)
BUILD_INFO.labels(__version__, platform.python_version()).set(1)

# -- scheduling ------------------------------------------------------------------------
RUNS_CREATED = Counter(
    "baton_flow_runs_created_total", "FlowRuns created by the scheduler.", ["namespace"]
)
SCHEDULING_SKEW = Histogram(
    "baton_scheduling_skew_seconds",
    "Delay from a fire time to its FlowRun's creation.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
_DEPLOYMENT = ["namespace", "deployment"]
NEXT_SCHEDULE = Gauge(
    "baton_deployment_next_schedule_time_seconds",
    "Unix time of the Deployment's next fire time (absent while paused or unscheduled).",
    _DEPLOYMENT,
)
LAST_SCHEDULE = Gauge(
    "baton_deployment_last_schedule_time_seconds",
    "Unix time of the latest fire time a run was created for.",
    _DEPLOYMENT,
)
ACTIVE_RUNS = Gauge(
    "baton_deployment_active_runs", "The Deployment's runs not in a terminal state.", _DEPLOYMENT
)
PAUSED = Gauge("baton_deployment_paused", "1 when the Deployment is paused, else 0.", _DEPLOYMENT)

# -- runs ------------------------------------------------------------------------------
STATE_TRANSITIONS = Counter(
    "baton_flow_run_state_transitions_total",
    "FlowRun state changes written by the operator.",
    ["namespace", "state"],
)
RUNS_FINISHED = Counter(
    "baton_flow_runs_finished_total",
    "FlowRuns that reached a terminal state, by that state (deployment is empty for "
    "ad-hoc runs of a Flow).",
    [*_DEPLOYMENT, "state"],
)
RUN_DURATION = Histogram(
    "baton_flow_run_duration_seconds",
    "From a run's start to its terminal state, for runs that started.",
    _DEPLOYMENT,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
JOB_CREATION_LATENCY = Histogram(
    "baton_job_creation_latency_seconds",
    "Delay from a run's scheduled time (or creation) to its Job's creation.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)

# -- pools -----------------------------------------------------------------------------
POOL_QUEUED = Gauge(
    "baton_work_pool_queued_runs", "Runs waiting for a slot, per WorkPool.", ["namespace", "pool"]
)
POOL_ACTIVE = Gauge(
    "baton_work_pool_active_runs", "Runs Pending or Running, per WorkPool.", ["namespace", "pool"]
)

# -- the operator's own machinery ------------------------------------------------------
API_REQUESTS = Counter(
    "baton_api_requests_total",
    "Requests the operator's client made to the Kubernetes API server (each retry "
    "counts); code is the HTTP status, or error when no response came.",
    ["verb", "resource", "code"],
)
API_LATENCY = Histogram(
    "baton_api_request_duration_seconds",
    "Time to the API server's response headers, per request.",
    ["verb", "resource"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge(
    "baton_work_queue_depth", "Keys waiting to be reconciled now, per work queue.", ["queue"]
)
QUEUE_LATENCY = Histogram(
    "baton_work_queue_latency_seconds",
    "From a key becoming due (marked, or its wake-up time) to its reconcile starting.",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
)
RECONCILE_DURATION = Histogram(
    "baton_work_queue_reconcile_duration_seconds",
    "Time one reconcile took, per work queue.",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
)


def _seconds(value: datetime) -> float:
    return value.timestamp()


def observe_deployment(
    namespace: str,
    name: str,
    *,
    next_fire: datetime | None,
    last_scheduled: datetime | None,
    active_runs: int,
    paused: bool,
) -> None:
    """The schedule series of one Deployment, as its status just said."""
    for gauge, value in ((NEXT_SCHEDULE, next_fire), (LAST_SCHEDULE, last_scheduled)):
        if value is None:
            _remove(gauge, namespace, name)
        else:
            gauge.labels(namespace, name).set(_seconds(value))
    ACTIVE_RUNS.labels(namespace, name).set(active_runs)
    PAUSED.labels(namespace, name).set(1 if paused else 0)


def forget_deployment(namespace: str, name: str) -> None:
    """Remove every series of a deleted Deployment."""
    for metric in (NEXT_SCHEDULE, LAST_SCHEDULE, ACTIVE_RUNS, PAUSED, RUN_DURATION):
        _remove(metric, namespace, name)
    for state in TERMINAL_STATES:
        _remove(RUNS_FINISHED, namespace, name, state.value)


def forget_pool(namespace: str, name: str) -> None:
    """Remove every series of a deleted WorkPool."""
    for gauge in (POOL_QUEUED, POOL_ACTIVE):
        _remove(gauge, namespace, name)


def run_finished(
    namespace: str, deployment: str | None, state: str, duration_seconds: float | None
) -> None:
    RUNS_FINISHED.labels(namespace, deployment or "", state).inc()
    if duration_seconds is not None:
        RUN_DURATION.labels(namespace, deployment or "").observe(max(0.0, duration_seconds))


def _remove(metric: Gauge | Counter | Histogram, *labels: str) -> None:
    metric.remove(*labels)  # a label set never used is no error


# The client reports raw paths; these are the resource names in them.
_PATH = re.compile(
    r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/(?P<resource>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)
_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}


def request_labels(method: str, path: str, *, watch: bool = False) -> tuple[str, str]:
    """``("list", "flowruns")`` for ``GET /apis/baton.dev/v1alpha1/.../flowruns``.

    Verbs are the API server's own (get, list, watch, create, patch, update, delete);
    a subresource shows as ``flowruns/status``.
    """
    match = _PATH.match(path)
    if match is None:
        return method.lower(), "other"
    resource = match["resource"]
    if match["sub"]:
        resource = f"{resource}/{match['sub']}"
    if method == "GET":
        verb = "watch" if watch else ("get" if match["name"] else "list")
    else:
        verb = _VERBS.get(method, method.lower())
    return verb, resource


def observe_request(method: str, path: str, code: str, seconds: float, watch: bool) -> None:
    """The API client's hook (``AsyncKubeClient(observer=...)``): one finished request."""
    verb, resource = request_labels(method, path, watch=watch)
    API_REQUESTS.labels(verb, resource, code).inc()
    API_LATENCY.labels(verb, resource).observe(seconds)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` (0 disables)."""
    if port:
        start_http_server(port)
