"""The operator's scheduler against the real API server, with the operator running for real.

No run controller is involved here: where a test needs a run to be finished, it writes
the run's status through the status subresource itself, playing that controller's part.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clusterkit import Cluster, OperatorProcess
from invariants import Invariants

pytestmark = pytest.mark.integration


def deployment(name: str, schedule: dict[str, Any], **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"flowRef": {"name": "f"}, "schedules": [schedule], **spec},
        }
    )


def runs_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items = cluster.get_json("flowruns", "-n", namespace, "-l", f"baton.dev/deployment={name}")[
        "items"
    ]
    return list(items)


def scheduled_times(runs: list[dict[str, Any]]) -> list[datetime]:
    return sorted(
        datetime.fromisoformat(r["spec"]["scheduledTime"].replace("Z", "+00:00")) for r in runs
    )


def created_at(cluster: Cluster, namespace: str, kind: str, name: str) -> datetime:
    stamp = cluster.get_json(kind, name, "-n", namespace)["metadata"]["creationTimestamp"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def interval_fire_times(every: int, after: datetime, until: datetime) -> list[datetime]:
    """Interval fire times without an anchor are multiples of `every` since the epoch."""
    first = (int(after.timestamp()) // every + 1) * every
    times = []
    t = first
    while t <= until.timestamp():
        times.append(datetime.fromtimestamp(t, UTC))
        t += every
    return times


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"condition not met within {timeout}s")


def test_interval_runs_exactly_once_across_kill_9(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """A 10 s interval; the operator is killed -9 mid-stream and restarted 25 s later."""
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=deployment("every10", {"interval": 10}, catchup={"policy": "All", "maxRuns": 10}),
    )
    created = created_at(crds, namespace, "deployments.baton.dev", "every10")
    recorder = Invariants(crds.kubeconfig, namespace)
    with recorder:
        wait_for(lambda: len(runs_of(crds, namespace, "every10")) >= 2, timeout=40)
        operator.kill9()
        time.sleep(25)  # the fault: two or three fire times pass with no operator
        operator.start()
        # Caught up, and one fire time more: a run scheduled 10 s after the restart.
        until = datetime.now(UTC) + timedelta(seconds=10)
        wait_for(lambda: max(scheduled_times(runs_of(crds, namespace, "every10"))) >= until,
                 timeout=40)  # fmt: skip
        counts = recorder.check_fire_times(
            {"every10": interval_fire_times(10, created, until)}, terminal=False
        )
    recorder.assert_clean()
    runs = runs_of(crds, namespace, "every10")
    times = scheduled_times(runs)
    expected = interval_fire_times(10, created, until)
    assert [t for t in times if t <= until] == expected and counts["every10"] == len(expected)
    for run in runs:
        owner = run["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "Deployment",
            "every10",
            True,
        )
        assert run["metadata"]["name"] == f"every10-{int(scheduled_times([run])[0].timestamp())}"

    def status_matches_runs() -> dict[str, Any] | None:
        # Status first, then runs: a fire time in between shows as a mismatch, not a pass.
        status = crds.get_json("deployments.baton.dev", "every10", "-n", namespace)["status"]
        latest = max(scheduled_times(runs_of(crds, namespace, "every10")))
        matches = status.get("lastScheduledTime") == latest.strftime("%Y-%m-%dT%H:%M:%SZ")
        return dict(status) if matches else None

    status = wait_for(status_matches_runs, timeout=15)
    assert datetime.fromisoformat(status["nextRunTime"].replace("Z", "+00:00")) > until
    row = crds.kubectl("get", "deployments.baton.dev", "every10", "-n", namespace).stdout
    assert "every 10s" in row and "True" in row


def test_latest_policy_skips_missed_times_with_a_warning(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=deployment("latest", {"interval": 3}))
    wait_for(lambda: runs_of(crds, namespace, "latest"), timeout=20)
    operator.kill9()
    time.sleep(10)  # three fire times are missed
    operator.start()
    wait_for(
        lambda: any(
            e["reason"] == "MissedRuns" for e in crds.get_json("events", "-n", namespace)["items"]
        ),
        timeout=20,
    )
    times = scheduled_times(runs_of(crds, namespace, "latest"))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) >= timedelta(seconds=9), "missed times were not skipped"


def test_two_replicas_create_each_run_once(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    operator.start()  # a second replica: a standby while the first holds the Lease
    # Catch-up All: a replica still starting up must not turn this into a catch-up test.
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=deployment("twice", {"interval": 2}, catchup={"policy": "All", "maxRuns": 20}),
    )
    created = created_at(crds, namespace, "deployments.baton.dev", "twice")
    recorder = Invariants(crds.kubeconfig, namespace)
    with recorder:
        until = created + timedelta(seconds=12)
        wait_for(lambda: (max(scheduled_times(runs_of(crds, namespace, "twice")), default=created)
                          >= until), timeout=40)  # fmt: skip
        # One UID per fire time: a run the standby created again after a delete, or
        # under another name, would be a second one.
        counts = recorder.check_fire_times(
            {"twice": interval_fire_times(2, created, until)}, terminal=False
        )
    recorder.assert_clean()
    times = [t for t in scheduled_times(runs_of(crds, namespace, "twice")) if t <= until]
    assert times == interval_fire_times(2, created, until) and counts["twice"] == len(times)


def test_invalid_cron_is_reported_and_others_keep_running(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    crds.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=deployment("broken", {"cron": "61 * * * *"})
    )
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=deployment("fine", {"interval": 2}))

    def ready() -> dict[str, Any] | None:
        status = crds.get_json("deployments.baton.dev", "broken", "-n", namespace).get("status", {})
        return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)

    condition = wait_for(ready)
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidSchedule"
    assert 'cron "61 * * * *"' in condition["message"]
    assert "61" in condition["message"] and "minute" in condition["message"]
    events = crds.get_json("events", "-n", namespace)["items"]
    assert any(
        e["reason"] == "InvalidSchedule" and e["involvedObject"]["name"] == "broken" for e in events
    )
    wait_for(lambda: len(runs_of(crds, namespace, "fine")) >= 2, timeout=15)
    assert runs_of(crds, namespace, "broken") == []
    # Fixing the cron makes it Ready at once, with the new generation observed.
    crds.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=deployment("broken", {"cron": "* * * * *"})
    )
    wait_for(lambda: (ready() or {}).get("status") == "True")
    status = crds.get_json("deployments.baton.dev", "broken", "-n", namespace)
    assert status["status"]["observedGeneration"] == status["metadata"]["generation"]


def test_pause_stops_new_runs_and_operator_never_writes_spec(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=deployment("pausable", {"interval": 2}))
    wait_for(lambda: runs_of(crds, namespace, "pausable"))
    crds.kubectl(
        "patch",
        "deployments.baton.dev",
        "pausable",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"paused": true}}',
    )
    wait_for(
        lambda: (
            crds.get_json("deployments.baton.dev", "pausable", "-n", namespace)["status"][
                "conditions"
            ][0]["reason"]
            == "Paused"
        )
    )
    count = len(runs_of(crds, namespace, "pausable"))
    # Proof the scheduler went on past the pause: a witness on the same 2 s interval gets
    # two runs for fire times after it; the paused one must have none meanwhile.
    paused_at = datetime.now(UTC)
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=deployment("witness", {"interval": 2}))
    wait_for(
        lambda: (
            len([t for t in scheduled_times(runs_of(crds, namespace, "witness")) if t > paused_at])
            >= 2
        )
    )
    assert len(runs_of(crds, namespace, "pausable")) == count
    managers = crds.get_json(
        "deployments.baton.dev", "pausable", "-n", namespace, "--show-managed-fields"
    )["metadata"]["managedFields"]
    spec_writers = {m["manager"] for m in managers if "f:spec" in json.dumps(m.get("fieldsV1", {}))}
    assert spec_writers == {"kubectl-client-side-apply", "kubectl-patch"}


def test_history_limits_delete_oldest_finished_runs(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=deployment(
            "history", {"interval": 1}, successfulRunsHistoryLimit=2, failedRunsHistoryLimit=1
        ),
    )
    wait_for(lambda: len(runs_of(crds, namespace, "history")) >= 6, timeout=20)
    crds.kubectl(
        "patch",
        "deployments.baton.dev",
        "history",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"paused": true}}',
    )
    time.sleep(1.5)
    runs = sorted(runs_of(crds, namespace, "history"), key=lambda r: r["spec"]["scheduledTime"])
    # Playing the run controller: finish the runs, alternating outcomes.
    states = {}
    for i, run in enumerate(runs):
        state = "Completed" if i % 2 == 0 else "Failed"
        states[run["metadata"]["name"]] = state
        crds.kubectl(
            "patch",
            "flowrun",
            run["metadata"]["name"],
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"state": state}}),
        )
    completed = [n for n, s in states.items() if s == "Completed"]
    failed = [n for n, s in states.items() if s == "Failed"]
    keep = set(sorted(completed)[-2:]) | set(sorted(failed)[-1:])
    wait_for(
        lambda: {r["metadata"]["name"] for r in runs_of(crds, namespace, "history")} == keep,
        timeout=20,
    )
