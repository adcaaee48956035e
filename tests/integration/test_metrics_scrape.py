"""The operator's /metrics after a real scenario: values, not only names.

One operator, one namespace: a yearly-cron Deployment with two waiting runs, a paused
one, a Deployment firing every two seconds into a paused pool, and a process pool whose
worker (a real ``baton worker``) completes one run and fails another. The scrape must
say what the cluster says, and what ``baton.schedules`` computes; deleting a Deployment
or a WorkPool removes its series.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from worker_helpers import WorkerProcess, apply, flow, process_pool, wait_for

from baton import __version__, schedules
from clusterkit import Cluster, OperatorProcess, controlplane
from kube_helpers import deployment, flow_run, pool

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metered(crds: Cluster, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(crds, namespace, tmp_path)
    process.metrics_port = controlplane.free_port()
    process.start()
    wait_for(lambda: _answers(process), 30, "the operator's /metrics to answer")
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


def _answers(operator: OperatorProcess) -> bool:
    try:
        return bool(scrape(operator))
    except urllib.error.URLError:
        return False


def scrape(operator: OperatorProcess) -> Samples:
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_scrape_after_a_scenario(metered: OperatorProcess, namespace: str, tmp_path: Path) -> None:
    cluster, ns = metered.cluster, namespace
    yearly = {"cron": "0 0 1 1 *", "timezone": "Europe/Berlin"}
    apply(
        cluster,
        ns,
        process_pool("p", heartbeatTimeoutSeconds=5),
        flow("record", "worker_flows.py:record"),
        flow("fails", "fails.py:fails"),
        {"kind": "Deployment", "metadata": {"name": "ok"},
         "spec": {"flowRef": {"name": "record"}, "workPoolRef": {"name": "p"},
                  "parameters": {"path": str(tmp_path / "out.txt"), "seconds": 0.1}}},
        {"kind": "Deployment", "metadata": {"name": "bad"},
         "spec": {"flowRef": {"name": "fails"}, "workPoolRef": {"name": "p"}}},
    )  # fmt: skip
    apply(
        cluster,
        ns,
        flow("f", "x.py:f"),
        pool("held", paused=True),
        deployment("yearly", schedules=[yearly], workPoolRef={"name": "held"}),
        deployment("asleep", schedules=[yearly], paused=True),
        deployment("tick", schedules=[{"interval": 2}], workPoolRef={"name": "held"}),
        flow_run("yearly-a", "yearly"),
        flow_run("yearly-b", "yearly"),
    )
    yearly_ns = {"namespace": ns, "deployment": "yearly"}

    # Per-Deployment schedule series, as kube-state-metrics has them for CronJobs.
    expected_next = schedules.next_fire_times(
        schedules.CronSpec("0 0 1 1 *", "Europe/Berlin"), datetime.now(UTC), 1
    )[0]
    samples = wait_for(
        lambda: (
            (s := scrape(metered))
            and value(s, "baton_deployment_active_runs", **yearly_ns) == 2
            and s
        ),
        30,
        "the yearly Deployment's two active runs",
    )
    assert value(samples, "baton_deployment_next_schedule_time_seconds", **yearly_ns) == (
        expected_next.timestamp()
    )
    assert value(samples, "baton_deployment_paused", **yearly_ns) == 0
    asleep = {"namespace": ns, "deployment": "asleep"}
    assert value(samples, "baton_deployment_paused", **asleep) == 1
    assert value(samples, "baton_deployment_next_schedule_time_seconds", **asleep) is None

    # A Deployment firing every 2 s: its last schedule time is its status', skew observed.
    tick = {"namespace": ns, "deployment": "tick"}
    samples = wait_for(
        lambda: (
            (s := scrape(metered))
            and (value(s, "baton_flow_runs_created_total", namespace=ns) or 0) >= 2
            and value(s, "baton_deployment_last_schedule_time_seconds", **tick)
            and s
        ),
        30,
        "two scheduled runs of tick",
    )
    cluster.kubectl("patch", "bdep", "tick", "-n", ns, "--type=merge", "-p",
                    '{"spec": {"paused": true}}')  # fmt: skip
    status = wait_for(
        lambda: (
            (b := cluster.get_json("bdep", "tick", "-n", ns)).get("status", {}).get("nextRunTime")
            is None
            and b["status"]
        ),
        30,
        "tick paused",
    )
    samples = wait_for(
        lambda: (s := scrape(metered)) and value(s, "baton_deployment_paused", **tick) == 1 and s,
        30,
        "tick's paused series",
    )
    assert value(samples, "baton_deployment_last_schedule_time_seconds", **tick) == stamp(
        status["lastScheduledTime"]
    )
    assert (value(samples, "baton_scheduling_skew_seconds_count") or 0) >= 2

    # Runs by final state and their durations, from a real worker.
    apply(cluster, ns, flow_run("ok-1", "ok"), flow_run("bad-1", "bad"))
    worker = WorkerProcess(cluster, ns, "p", tmp_path)
    try:
        samples = wait_for(
            lambda: (s := scrape(metered))
            and value(s, "baton_flow_runs_finished_total", namespace=ns, deployment="ok",
                      state="Completed") == 1
            and value(s, "baton_flow_runs_finished_total", namespace=ns, deployment="bad",
                      state="Failed") == 1
            and s,
            60,
            "one Completed and one Failed run counted",
        )  # fmt: skip
    finally:
        worker.stop()
    ok = {"namespace": ns, "deployment": "ok"}
    assert value(samples, "baton_flow_run_duration_seconds_count", **ok) == 1
    run = cluster.get_json("flowrun", "ok-1", "-n", ns)["status"]
    took = stamp(run["endTime"]) - stamp(run["startTime"])
    observed = value(samples, "baton_flow_run_duration_seconds_sum", **ok) or 0.0
    assert abs(observed - took) <= 1.0, (observed, run)
    assert value(samples, "baton_flow_runs_finished_total", **ok, state="Failed") is None

    # The operator's own machinery: API requests by verb/resource/code, its queues, build.
    patches = value(
        samples, "baton_api_requests_total", verb="patch", resource="flowruns/status", code="200"
    )
    assert patches and patches >= 4  # at least Pending and an end for each of ok-1, bad-1
    assert (
        value(samples, "baton_api_request_duration_seconds_count",
              verb="patch", resource="flowruns/status") or 0
    ) >= patches  # fmt: skip
    assert value(samples, "baton_api_requests_total", verb="watch", resource="jobs", code="200")
    assert (value(samples, "baton_work_queue_latency_seconds_count", queue="runs") or 0) > 0
    assert value(samples, "baton_work_queue_depth", queue="scheduler") is not None
    assert [
        v for (name, labels), v in samples.items()
        if name == "baton_build_info" and ("version", __version__) in labels
    ] == [1.0]  # fmt: skip
    # The paused pool holds yearly's two runs and every run tick made.
    held = {"namespace": ns, "pool": "held"}
    waiting = [
        r for r in cluster.get_json("flowruns", "-n", ns)["items"]
        if r["spec"]["deploymentRef"]["name"] in ("yearly", "tick")
    ]  # fmt: skip
    assert len(waiting) >= 4
    wait_for(
        lambda: value(scrape(metered), "baton_work_pool_queued_runs", **held) == len(waiting),
        10,
        f"{len(waiting)} runs queued in the paused pool",
    )

    # Series go with their objects.
    cluster.kubectl("delete", "bdep", "yearly", "-n", ns)
    cluster.kubectl("delete", "workpool", "held", "-n", ns)
    gone = wait_for(
        lambda: (
            (s := scrape(metered))
            and value(s, "baton_deployment_active_runs", **yearly_ns) is None
            and value(s, "baton_work_pool_queued_runs", **held) is None
            and value(s, "baton_deployment_active_runs", **ok) == 0
            and s
        ),
        30,
        "the deleted Deployment's and WorkPool's series to go",
    )
    leftovers = [
        key for key in gone if ("deployment", "yearly") in key[1] or ("pool", "held") in key[1]
    ]
    assert not leftovers, leftovers
