"""A hostile tenant cannot stall or wedge the operator for another namespace (issue 21).

One operator serves two namespaces. In the victim's, a Deployment fires every 5 s. In the
attacker's, objects that once stalled the event loop or wedged a pool's admission:
catastrophic-backtracking ``pattern``s with runs whose parameters trigger them, invalid
schemas (``{"type": 5}``, ``pattern: "("``) with runs, and schedules that never fire
(rrule, cron, interval). Every victim fire time must get its run within 1 s, exactly once;
the attacker's objects must carry the reasons; the operator log must have no traceback.

Skew is measured by a watch on the victim's FlowRuns: the local time the ADDED event
arrives minus ``spec.scheduledTime`` (so it includes the watch's own delivery latency).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fault_support import RunWatch

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, flow_run, pool, ready_at_generation, wait_for

pytestmark = pytest.mark.integration

EVERY = 5
ATTACK_SECONDS = 40
SKEW_BOUND = 1.0
CATASTROPHIC = {
    "type": "object",
    "properties": {"x": {"type": "string", "pattern": "^(a+)+$"}},
    "patternProperties": {"^(b+)+$": {"type": "integer"}},
    "additionalProperties": False,
}


@pytest.fixture
def attacker_namespace(crds: Cluster) -> Iterator[str]:
    name = f"t-hostile-{int(time.time() * 1000) % 10**9}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def shared_operator(
    crds: Cluster, namespace: str, attacker_namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(crds, namespace, tmp_path, also=(attacker_namespace,))
    process.start()
    yield process
    process.stop()


def _hostile_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        pool(),
        flow("regex", parameterSchema=CATASTROPHIC),
        flow("typo", parameterSchema={"type": 5}),
        flow("paren", parameterSchema={"properties": {"x": {"pattern": "("}}}),
        # Failed runs are kept (the default history limit would delete them as they end).
        deployment("regex-d", flow_name="regex", failedRunsHistoryLimit=100),
        deployment("typo-d", flow_name="typo", failedRunsHistoryLimit=100),
        deployment("paren-d", flow_name="paren", failedRunsHistoryLimit=100),
        deployment("rrule", schedules=[{"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}]),
        deployment("cron", schedules=[{"cron": "0 0 30 2 *"}]),
        deployment("interval", schedules=[{"interval": 10**12}]),
        flow(),
    ]
    # Each of these took Python's re about 2**30 steps: minutes of a blocked event loop.
    for i in range(10):
        objects.append(flow_run(f"regex-{i}", "regex-d", parameters={"x": "a" * 30 + "!"}))
        objects.append(flow_run(f"keys-{i}", "regex-d", parameters={"b" * 30 + "!": 1}))
    objects += [flow_run(f"typo-{i}", "typo-d") for i in range(5)]
    objects += [flow_run(f"paren-{i}", "paren-d", parameters={"x": "y"}) for i in range(5)]
    return objects


def test_hostile_objects_do_not_delay_another_namespace(
    shared_operator: OperatorProcess, crds: Cluster, namespace: str, attacker_namespace: str
) -> None:
    watch = RunWatch(crds, namespace)
    try:
        apply(
            crds, namespace, flow(), pool(), deployment("victim", schedules=[{"interval": EVERY}])
        )
        wait_for(lambda: watch.seen, timeout=3 * EVERY, what="the victim's first run")
        apply(crds, attacker_namespace, *_hostile_objects())
        time.sleep(ATTACK_SECONDS)
    finally:
        watch.stop()

    skews = watch.skews()
    print(f"victim skew: worst {max(skews.values()):.3f} s over {len(skews)} runs", skews)
    assert len(skews) >= ATTACK_SECONDS // EVERY
    late = {name: round(s, 3) for name, s in skews.items() if s > SKEW_BOUND}
    assert not late, f"victim runs later than {SKEW_BOUND} s: {late}"
    # Exactly once: one run per fire time, none missing between the first and the last.
    items = crds.get_json("flowruns", "-n", namespace, "-l", "baton.dev/deployment=victim")
    times = sorted(
        int(datetime.fromisoformat(i["spec"]["scheduledTime"].replace("Z", "+00:00")).timestamp())
        for i in items["items"]
    )
    assert times == list(range(times[0], times[-1] + EVERY, EVERY)), times

    # The attacker's objects got their verdicts, with reasons, and nothing else.
    for name in ("typo", "paren"):
        ready = wait_for(
            lambda n=name: ready_at_generation(crds, "flows.baton.dev", attacker_namespace, n)
        )
        assert (ready["status"], ready["reason"]) == ("False", "InvalidParameterSchema"), ready
        assert ready["lastTransitionTime"] and ready["message"]
    regex_ready = wait_for(
        lambda: ready_at_generation(crds, "flows.baton.dev", attacker_namespace, "regex")
    )
    assert regex_ready["status"] == "True", regex_ready
    for name in ("rrule", "cron", "interval"):
        ready = wait_for(
            lambda n=name: ready_at_generation(crds, "deployments.baton.dev", attacker_namespace, n)
        )
        assert (ready["status"], ready["reason"]) == ("False", "NeverFires"), ready
    runs = crds.get_json("flowruns", "-n", attacker_namespace)["items"]
    verdicts = {
        r["metadata"]["name"]: ((r.get("status") or {}).get("state"), r["status"].get("reason"))
        for r in runs
    }
    for prefix, count, reason in (
        ("regex", 10, "InvalidParameters"),
        ("keys", 10, "InvalidParameters"),
        ("typo", 5, "InvalidParameterSchema"),
        ("paren", 5, "InvalidParameterSchema"),
    ):
        for i in range(count):
            assert verdicts[f"{prefix}-{i}"] == ("Failed", reason), (prefix, i, verdicts)
    assert not [r["metadata"]["name"] for r in runs if "scheduledTime" in r["spec"]]
    events = crds.get_json("events", "-n", attacker_namespace)["items"]
    assert any(
        e["reason"] == "InvalidParameterSchema" and e["involvedObject"]["name"] == "typo"
        for e in events
    ), json.dumps([e["reason"] for e in events])
    assert "Traceback" not in shared_operator.logs(), shared_operator.logs()[-5000:]
