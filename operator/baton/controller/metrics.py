"""Prometheus metrics of the operator, served on ``/metrics``.

Counters and histograms are updated where the decisions are applied (scheduler, run
controller); gauges per pool are set on every admission pass. Names follow Prometheus
conventions (``baton_`` prefix, base units, ``_total`` counters).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RUNS_CREATED = Counter(
    "baton_flow_runs_created_total", "FlowRuns created by the scheduler.", ["namespace"]
)
STATE_TRANSITIONS = Counter(
    "baton_flow_run_state_transitions_total",
    "FlowRun state changes written by the operator.",
    ["namespace", "state"],
)
SCHEDULING_SKEW = Histogram(
    "baton_scheduling_skew_seconds",
    "Delay from a fire time to its FlowRun's creation.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
JOB_CREATION_LATENCY = Histogram(
    "baton_job_creation_latency_seconds",
    "Delay from a run's scheduled time (or creation) to its Job's creation.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge(
    "baton_work_pool_queued_runs", "Runs waiting for a slot, per WorkPool.", ["namespace", "pool"]
)
RUNNING = Gauge(
    "baton_work_pool_active_runs", "Runs Pending or Running, per WorkPool.", ["namespace", "pool"]
)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` (0 disables)."""
    if port:
        start_http_server(port)
