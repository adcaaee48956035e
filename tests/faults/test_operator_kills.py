"""kill -9 storms: nothing lost, nothing doubled, every run ends.

50 Deployments fire every 5 seconds while the operator is killed with SIGKILL at random
moments, 20 times over, each time restarted at once — first a single replica, then two
replicas with the killed one always being the one that started first. Afterwards every
fire time inside the catch-up window has exactly one FlowRun (one UID ever seen, so a
run deleted and created again counts twice) and every FlowRun ends Completed.
``invariants.Invariants`` watches Jobs, pods and FlowRuns and checks every event: never
two Jobs (UIDs) for one attempt, never two live at once, no terminal run coming back.

No kubelet and no flow code run here (800 runs of ``baton execute`` would not fit the
test's time): a thread plays the runtime of each Job, writing a "Completed" report for
that Job's attempt; the operator must fold it into the state, and anything but Completed
is a verdict it made up. Execution counts are checked with the real runtime in
test_control_plane_faults.py.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clusterkit import Cluster, OperatorProcess
from invariants import TERMINAL, Invariants
from kube_helpers import apply, flow, now, pool, wait_for

pytestmark = pytest.mark.integration

DEPLOYMENTS = 50
EVERY = 5
KILLS = 20


class RuntimePlayer:
    """Plays the runtime of every Job: reports Completed for the Job's own attempt (its
    ``baton.dev/attempt`` label) on the run that owns it, once per Job UID."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.reported: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            listed = self.cluster.kubectl("get", "jobs", "-n", self.namespace, "-o", "json",
                                          check=False)  # fmt: skip
            for job in json.loads(listed.stdout)["items"] if listed.returncode == 0 else []:
                meta = job["metadata"]
                if meta["uid"] in self.reported or meta.get("deletionTimestamp"):
                    continue
                owner = next(o for o in meta["ownerReferences"] if o["kind"] == "FlowRun")
                patch = {
                    "status": {
                        "runtime": {
                            "state": "Completed",
                            "attempt": int(meta["labels"]["baton.dev/attempt"]),
                            "timestamp": now(),
                            "startTime": now(),
                            "endTime": now(),
                        }
                    }
                }
                written = self.cluster.kubectl(
                    "patch", "flowrun", owner["name"], "-n", self.namespace,
                    "--subresource=status", "--type=merge", "-p", json.dumps(patch),
                    check=False,
                )  # fmt: skip
                if written.returncode == 0:
                    self.reported.add(meta["uid"])
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


def expected_times(created: dict[str, datetime], until: datetime) -> dict[str, list[datetime]]:
    """Every Deployment's fire times from its creation to ``until``."""
    expected = {}
    for name, at in created.items():
        first = (int(at.timestamp()) // EVERY + 1) * EVERY
        expected[name] = [
            datetime.fromtimestamp(t, UTC) for t in range(first, int(until.timestamp()) + 1, EVERY)
        ]
    return expected


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
    recorder = Invariants(crds.kubeconfig, namespace)
    with recorder, RuntimePlayer(crds, namespace) as player:
        kills = storm(operator, rng, replicas=replicas)
        until = datetime.now(UTC) - timedelta(seconds=2)
        expected = expected_times(created, until)

        def caught_up() -> bool:
            times = {
                (r["spec"]["deploymentRef"]["name"], r["spec"]["scheduledTime"])
                for r in recorder.snapshot_runs()
            }
            return all(
                (name, t.strftime("%Y-%m-%dT%H:%M:%SZ")) in times
                for name, moments in expected.items()
                for t in moments
            )

        # The last restart may still be catching up on the latest fire times.
        wait_for(caught_up, timeout=180, interval=1, what="every fire time to have its run")
        # Deactivate the schedules so the end state is stable (pausing the Deployment
        # would also hold its queued runs), then let everything settle.
        inactive = json.dumps({"spec": {"schedules": [{"interval": EVERY, "active": False}]}})
        for name in created:
            crds.kubectl(
                "patch", "deployments.baton.dev", name, "-n", namespace,
                "--type=merge", "-p", inactive,
            )  # fmt: skip

        def settled() -> bool:
            return recorder.all_terminal()

        try:
            wait_for(settled, timeout=180, interval=1, what="every run terminal")
        except AssertionError as error:
            waiting = Counter(
                f"{(r.get('status') or {}).get('state')}/{(r.get('status') or {}).get('reason')}"
                for r in recorder.snapshot_runs()
                if (r.get("status") or {}).get("state") not in TERMINAL
            )
            raise AssertionError(f"{error}: {dict(waiting)}") from None
        counts = recorder.check_fire_times(expected)
        states = Counter((r.get("status") or {}).get("state") for r in recorder.snapshot_runs())
        summary: dict[str, Any] = {
            "replicas": replicas,
            "kills": kills,
            "fire times": sum(counts.values()),
            "states": dict(states),
            "reports written": len(player.reported),
            **recorder.counters(),
        }
        print(f"kill-9 storm: {json.dumps(summary)}")
    recorder.assert_clean()
    # Every Job's report said Completed: any other end is a verdict the operator made up.
    assert set(states) == {"Completed"}, summary
    # Sanity floor: the storm spanned at least 5 fire times of every Deployment.
    assert kills == KILLS and sum(counts.values()) >= DEPLOYMENTS * 5
