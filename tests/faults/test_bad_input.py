"""Bad input, generated: the API server refuses what the schema forbids, the operator
explains the rest, never crashes, and keeps serving a valid Deployment meanwhile.

Hypothesis generates Deployment specs and FlowRun parameters — valid and invalid — and
applies each to the real API server with the real operator running.
"""

from __future__ import annotations

import itertools
import json
import string
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.resources import DeploymentSpec
from baton.resources.validation import deployment_problems
from clusterkit import Cluster, OperatorProcess
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    pool,
    ready_at_generation,
    run_status,
    wait_for,
)

pytestmark = pytest.mark.integration

#: A fresh number for each generated example's Deployment name.
EXAMPLES = itertools.count()

REFUSAL_MARKERS = (
    "Invalid value",
    "Required value",
    "Unsupported value",
    "must ",
    "should be",
    "exactly one of",
    "only allowed",
    "applies only",
)

crons = st.one_of(
    st.sampled_from(
        [
            "* * * * *",
            "*/5 * * * *",
            "0 9 * * 1-5",
            "@daily",
            "61 * * * *",
            "* * * *",
            "0 0 31 2 *",
            "0 25 * * *",
            "*/0 * * * *",
            "",
            "banana",
        ]
    ),
    st.text(alphabet=string.digits + " */-,", min_size=1, max_size=15),
)
intervals = st.one_of(
    st.integers(min_value=-5, max_value=10_000),
    st.sampled_from(["90s", "1h30m", "PT1H", "0s", "soon", "-3", "1.5"]),
)
timezones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Mars/Base", "", "utc"])
schedules = st.fixed_dictionaries(
    {},
    optional={
        "cron": crons,
        "interval": intervals,
        "rrule": st.sampled_from(
            ["FREQ=DAILY", "FREQ=HOURLY;INTERVAL=0", "FREQ=SOMETIMES", "DTSTART:2026"]
        ),
        "timezone": timezones,
        "active": st.booleans(),
    },
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(string.ascii_letters, min_size=1, max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)
specs = st.fixed_dictionaries(
    {"flowRef": st.just({"name": "f"})},
    optional={
        "schedules": st.lists(schedules, max_size=3),
        "parameters": st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=4),
        "concurrency": st.fixed_dictionaries(
            {},
            optional={
                "limit": st.integers(-1, 3),
                "collisionStrategy": st.sampled_from(["Enqueue", "CancelNew", "CancelOld", "Drop"]),
            },
        ),
        "catchup": st.fixed_dictionaries(
            {},
            optional={
                "policy": st.sampled_from(["Latest", "All", "Skip", "Never"]),
                "maxRuns": st.integers(-1, 5),
            },
        ),
        "lateAfterSeconds": st.integers(-2, 30),
        "paused": st.booleans(),
    },
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=specs, index=st.integers(0, 10**9))
def test_generated_deployments(
    operator: OperatorProcess, crds: Cluster, namespace: str, spec: dict[str, Any], index: int
) -> None:
    # One name per example (Hypothesis reuses the namespace): an earlier example's
    # verdict can never be read for this one.
    name = f"gen-{next(EXAMPLES)}-{index}"
    result = crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        stdin=json.dumps(deployment(name, **{k: v for k, v in spec.items() if k != "flowRef"})),
    )
    if result.returncode != 0:
        assert any(marker in result.stderr for marker in REFUSAL_MARKERS), result.stderr
        return
    # Accepted: the operator must report on it, True or False with a reason.
    expected_problems = deployment_problems(
        DeploymentSpec.model_validate(
            crds.get_json("deployments.baton.dev", name, "-n", namespace)["spec"]
        )
    )

    condition = wait_for(
        lambda: ready_at_generation(crds, "deployments.baton.dev", namespace, name),
        timeout=20,
        what=f"Ready condition on {name} at its generation",
    )
    if expected_problems:
        assert condition["status"] == "False"
        assert condition["reason"] == expected_problems[0].reason  # InvalidSchedule, NeverFires
        assert condition["message"]
    else:
        assert condition["status"] == "True", condition
    assert operator.procs[-1].poll() is None, "the operator crashed"


def test_a_valid_deployment_keeps_running_amid_bad_input(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    apply(crds, namespace, flow(), pool())
    apply(crds, namespace, deployment("good", schedules=[{"interval": 2}]))
    for i, cron in enumerate(["61 * * * *", "* * *", "0 0 30 2 *", "@reboot"]):
        crds.kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            check=False,
            stdin=json.dumps(deployment(f"bad{i}", schedules=[{"cron": cron}])),
        )
    before = len(
        crds.get_json("flowruns", "-n", namespace, "-l", "baton.dev/deployment=good")["items"]
    )
    time.sleep(6)
    after = len(
        crds.get_json("flowruns", "-n", namespace, "-l", "baton.dev/deployment=good")["items"]
    )
    assert after >= before + 2


def test_huge_deep_and_unicode_parameters(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    apply(crds, namespace, flow(parameterSchema=schema), pool(), deployment())
    deep: Any = "leaf"
    for _ in range(60):
        deep = {"d": deep}
    runs = [
        flow_run("huge", parameters={"n": 1, "blob": "x" * 500_000}),
        flow_run("deep", parameters={"n": 1, "tree": deep}),
        flow_run("unicode", parameters={"n": 1, "name": "Grüße, 世界 🚀"}),
        flow_run("wrong", parameters={"n": "one"}),
    ]
    for run in runs:  # create, not apply: apply would copy 500 KB into an annotation
        crds.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(run))
    for name in ("huge", "deep", "unicode"):
        # Scheduled (Missing) first if the operator has not seen the Flow yet; then Pending.
        wait_for(lambda n=name: run_status(crds, namespace, n).get("state") == "Pending")
    huge_job = crds.get_json("job", run_status(crds, namespace, "huge")["jobName"], "-n", namespace)
    env = {e["name"] for e in huge_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "BATON_PARAMETERS" not in env, "a 500 KB environment string would break execve"
    assert len(json.dumps(huge_job)) < 20_000
    wrong = wait_for(
        lambda: (
            run_status(crds, namespace, "wrong").get("state") == "Failed"
            and run_status(crds, namespace, "wrong")
        )
    )
    assert "n: 'one' is not of type 'integer'" in wrong["message"]


def test_deleted_flow_and_pool_while_runs_wait(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    apply(crds, namespace, flow(), pool(paused=True), deployment())
    apply(crds, namespace, flow_run("orphan"))
    wait_for(lambda: run_status(crds, namespace, "orphan").get("reason") == "WorkPoolPaused")
    crds.kubectl("delete", "workpool", "default", "-n", namespace)
    waiting = wait_for(
        lambda: (
            "not found" in run_status(crds, namespace, "orphan").get("message", "")
            and run_status(crds, namespace, "orphan")
        )
    )
    assert waiting["state"] in ("Scheduled", "Late")
    assert "WorkPool 'default' not found" in waiting["message"]
    crds.kubectl("delete", "flow", "f", "-n", namespace)
    apply(crds, namespace, pool())
    missing_flow = wait_for(
        lambda: (
            "Flow 'f' not found" in run_status(crds, namespace, "orphan").get("message", "")
            and run_status(crds, namespace, "orphan")
        )
    )
    assert missing_flow["reason"] == "Missing"
    apply(crds, namespace, flow())
    assert wait_for(lambda: run_status(crds, namespace, "orphan").get("state") == "Pending")
