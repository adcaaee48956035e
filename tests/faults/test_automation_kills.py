"""kill -9 of the automations component: no notification lost, none doubled beyond the rule.

The rule (docs/automations.md): an action is recorded in the Automation's status right
after its receiver answers, before the next one starts, so a kill repeats at most the
one action in flight — one duplicate per Automation per kill — and loses none.

Phase 1 kills it between the state changes and their delivery (the receiver answers 500,
so every message is still owed); phase 2 kills it in the middle of a stream of
deliveries (the receiver holds each 200 for 0.4 s, so a kill lands inside a request).
No kubelet runs here: the test writes the runtime's Failed report itself.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation_support import (
    AutomationsProcess,
    HttpReceiver,
    automation_status,
    secret,
    started,
    wait_until,
    watching,
)
from baton._kube.client import FLOWRUNS, KubeClient
from baton._kube.config import from_kubeconfig
from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, flow_run, pool, wait_state

pytestmark = pytest.mark.integration


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


def fail_all(cluster: Cluster, namespace: str, names: list[str]) -> None:
    client = KubeClient(from_kubeconfig(cluster.kubeconfig))
    try:
        for name in names:
            runtime = {"state": "Failed", "message": "boom", "attempt": 1}
            client.patch_status(FLOWRUNS, name, namespace, {"status": {"runtime": runtime}})
    finally:
        client.close()
    for name in names:
        wait_state(cluster, namespace, name, "Failed")


def per_run(http: HttpReceiver) -> Counter[str]:
    return Counter(a.json()["text"].split()[1] for a in http.accepted())


def test_kill9_loses_no_notification_and_repeats_at_most_one_per_kill(
    operator: OperatorProcess, crds: Cluster, namespace: str, http: HttpReceiver, tmp_path: Path
) -> None:
    secret(crds, namespace, "slack", url=f"{http.url}/slack")
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        deployment("d", notifications=[{"slack": {"secretRef": {"name": "slack"}}}]),
    )
    first = [f"a{i}" for i in range(5)]
    second = [f"b{i}" for i in range(10)]
    apply(crds, namespace, *(flow_run(n, "d") for n in first + second))
    for name in first + second:
        started(crds, namespace, name)
    process = AutomationsProcess(crds, [namespace], tmp_path)
    process.start()
    try:
        watching(crds, namespace, "d-notify-0")
        # Phase 1: the states change, the receiver is down, then the component dies.
        http.fail_always = True
        fail_all(crds, namespace, first)
        wait_until(
            lambda: {a.json()["text"].split()[1] for a in http.arrivals} >= set(first),
            30,
            "an attempt for every run",
        )
        process.kill9()
        assert http.accepted() == []
        http.fail_always = False
        process.start()
        wait_until(lambda: set(per_run(http)) >= set(first), 30, "every phase-1 message")
        time.sleep(2)
        assert per_run(http) == Counter(dict.fromkeys(first, 1)), per_run(http)

        # Phase 2: a kill in the middle of a stream of deliveries.
        http.delay = 0.4
        fail_all(crds, namespace, second)
        wait_until(lambda: len(http.accepted()) >= len(first) + 3, 30, "a few deliveries")
        time.sleep(0.2)  # inside the next request's 0.4 s
        process.kill9()
        process.start()
        wait_until(lambda: set(per_run(http)) >= set(first + second), 60, "every message")
        time.sleep(2)
        counts = per_run(http)
        assert set(counts) == set(first + second)  # none lost
        duplicates = sum(c - 1 for c in counts.values())
        assert duplicates <= 1, counts  # one kill, one Automation: at most one repeat
        # A repeated message's first delivery was never recorded: the kill came first.
        wait_until(
            lambda: (
                automation_status(crds, namespace, "d-notify-0")["deliveredCount"]
                == len(first + second)
            ),
            30,
            "every delivery recorded once",
        )
    finally:
        process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]
