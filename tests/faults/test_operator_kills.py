"""kill -9 storms: nothing lost, nothing doubled, every run ends.

50 Deployments fire every 5 seconds while the operator is killed with SIGKILL at random
moments, 20 times over, each time restarted at once — first a single replica, then two
replicas with the killed one always being the one that started first. Afterwards every
fire time inside the catch-up window has exactly one FlowRun, and every FlowRun reaches a
terminal state.

No kubelet runs here: a thread plays the in-pod runtime's part by writing the final
report ("Completed") of every admitted run; the operator must fold it into the state.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, flow, now, pool, wait_for

pytestmark = pytest.mark.integration

DEPLOYMENTS = 50
EVERY = 5
KILLS = 20


class RuntimePlayer:
    """Plays the runtime: reports Completed for every admitted, unfinished run."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            items = self.cluster.get_json("flowruns", "-n", self.namespace)["items"]
            for run in items:
                status = run.get("status") or {}
                if status.get("state") in ("Pending", "Running") and not status.get("runtime"):
                    patch = {
                        "status": {
                            "runtime": {
                                "state": "Completed",
                                "attempt": status.get("attempts", 1),
                                "timestamp": now(),
                                "startTime": now(),
                                "endTime": now(),
                            }
                        }
                    }
                    self.cluster.kubectl(
                        "patch",
                        "flowrun",
                        run["metadata"]["name"],
                        "-n",
                        self.namespace,
                        "--subresource=status",
                        "--type=merge",
                        "-p",
                        json.dumps(patch),
                        check=False,
                    )
            self._stop.wait(1.0)

    def __enter__(self) -> RuntimePlayer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def storm(operator: OperatorProcess, rng: random.Random, *, replicas: int) -> int:
    """Kill the oldest replica KILLS times at random moments; restart at once.

    One replica: the kubelet restarting the container in its pod (the same leader
    identity, which takes its Lease back at once). Two: the killed replica's pod is
    replaced by a new one (a new identity), so the standby takes over once the Lease
    expires (4 s here) and the new pod becomes the standby.
    """
    pods = itertools.count(1)  # the fixture started "operator-0"
    while len([p for p in operator.procs if p.poll() is None]) < replicas:
        operator.start(pod=f"operator-{next(pods)}")
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.5, 3.5))
        oldest = next(p for p in operator.procs if p.poll() is None)
        operator.kill9(oldest)
        operator.start(pod="operator-0" if replicas == 1 else f"operator-{next(pods)}")
    return KILLS


def check(cluster: Cluster, namespace: str, created: dict[str, datetime], until: datetime) -> int:
    runs = cluster.get_json("flowruns", "-n", namespace)["items"]
    by_deployment: dict[str, list[datetime]] = {name: [] for name in created}
    for run in runs:
        scheduled = datetime.fromisoformat(run["spec"]["scheduledTime"].replace("Z", "+00:00"))
        by_deployment[run["spec"]["deploymentRef"]["name"]].append(scheduled)
    for name, times in by_deployment.items():
        assert len(times) == len(set(times)), f"{name}: a fire time has two runs"
        first = (int(created[name].timestamp()) // EVERY + 1) * EVERY
        expected = [
            datetime.fromtimestamp(t, UTC) for t in range(first, int(until.timestamp()) + 1, EVERY)
        ]
        assert sorted(t for t in times if t <= until) == expected, f"{name}: a run is missing"
    return len(runs)


@pytest.mark.parametrize("replicas", [1, 2])
def test_kill_9_storm(
    operator: OperatorProcess, crds: Cluster, namespace: str, replicas: int
) -> None:
    rng = random.Random(20261121 + replicas)
    apply(crds, namespace, flow(), pool())
    apply(
        crds,
        namespace,
        *(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": f"d{i:02d}"},
                "spec": {
                    "flowRef": {"name": "f"},
                    "schedules": [{"interval": EVERY}],
                    "catchup": {"policy": "All", "maxRuns": 100},
                    "successfulRunsHistoryLimit": 1000,
                },
            }
            for i in range(DEPLOYMENTS)
        ),
    )
    created = {
        d["metadata"]["name"]: datetime.fromisoformat(
            d["metadata"]["creationTimestamp"].replace("Z", "+00:00")
        )
        for d in crds.get_json("deployments.baton.dev", "-n", namespace)["items"]
    }
    with RuntimePlayer(crds, namespace):
        kills = storm(operator, rng, replicas=replicas)
        until = datetime.now(UTC) - timedelta(seconds=2)

        def caught_up() -> bool:
            try:
                check(crds, namespace, created, until)
            except AssertionError as error:
                if "two runs" in str(error):
                    raise
                return False
            return True

        # The last restart may still be catching up on the latest fire times.
        wait_for(caught_up, timeout=120, interval=2, what="every fire time to have its run")
        # Deactivate the schedules so the end state is stable (pausing the Deployment
        # would also hold its queued runs), then let everything settle.
        inactive = json.dumps({"spec": {"schedules": [{"interval": EVERY, "active": False}]}})
        for name in created:
            crds.kubectl(
                "patch",
                "deployments.baton.dev",
                name,
                "-n",
                namespace,
                "--type=merge",
                "-p",
                inactive,
            )

        def all_terminal() -> bool:
            items = crds.get_json("flowruns", "-n", namespace)["items"]
            return all(
                (r.get("status") or {}).get("state")
                in ("Completed", "Failed", "Crashed", "Cancelled")
                for r in items
            )

        wait_for(all_terminal, timeout=120, interval=2, what="every run terminal")
    total = check(crds, namespace, created, until)
    # Sanity floor: the storm spanned at least 5 fire times of every Deployment.
    assert kills == KILLS and total >= DEPLOYMENTS * 5
    summary: dict[str, Any] = {"replicas": replicas, "kills": kills, "runs": total}
    print(f"kill-9 storm: {json.dumps(summary)}")
