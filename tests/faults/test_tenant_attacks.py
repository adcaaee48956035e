"""Tenant attacks: what a Deployment author, a flow's pod or an entrypoint cannot make Baton do.

Each test is an attack against the real API server, with the real operator running
where the defence is the operator's. Nothing is mocked; where a test needs a pod's
command to run it plays the kubelet's part explicitly (the runtime as a local process
with the pod's environment) and says so. docs/security.md names these tests.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import pickle
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fault_support import FLOWS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.resources.job_template import JobVariable
from clusterkit import Cluster, OperatorProcess
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    pool,
    ready_at_generation,
    run_status,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration


def refusal(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    """Apply ``body`` expecting the API server to refuse it; return its message."""
    done = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
    assert done.returncode != 0, f"the API server accepted {body['metadata']['name']}"
    return done.stderr


def ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    status = cluster.get_json("deployments.baton.dev", name, "-n", namespace).get("status") or {}
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


# --- confused deputy: jobVariables ----------------------------------------------------

POOL_OWNER_ASKS = {
    "serviceAccountName": ({"serviceAccountName": "cluster-admin-sa"}, "ServiceAccount"),
    "privileged": ({"securityContext": {"privileged": True}}, "privileges"),
    "runAsRoot": ({"podSecurityContext": {"runAsUser": 0}}, "privileges"),
    "hostPath": (
        {
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "volumeMounts": [{"name": "root", "mountPath": "/host"}],
        },
        "hostPath",
    ),
    "identity env": (
        {"env": [{"name": "BATON_ENTRYPOINT", "value": "/etc/evil.py:main"}]},
        "BATON_",
    ),
}


@pytest.mark.parametrize("ask", sorted(POOL_OWNER_ASKS))
def test_a_deployment_asking_for_pool_owner_fields_is_refused_at_admission(
    crds: Cluster, namespace: str, ask: str
) -> None:
    """The CRD's CEL rules refuse what no WorkPool may delegate, before it is stored."""
    variables, words = POOL_OWNER_ASKS[ask]
    apply(crds, namespace, flow(), pool(allowedJobVariables=["env", "volumes", "volumeMounts"]))
    message = refusal(crds, namespace, deployment("grab", jobVariables=variables))
    assert words in message, message
    assert "WorkPool owner" in message or "Baton sets" in message, message
    gone = crds.kubectl("get", "deployments.baton.dev", "grab", "-n", namespace, check=False)
    assert gone.returncode != 0
    assert jobs(crds, namespace) == []


def test_fields_the_pool_does_not_allow_make_the_deployment_not_ready_and_no_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """The pool's allowedJobVariables (default: resources, deadlines, pull policy) is the
    operator's to check, since CEL on a Deployment cannot see its pool: Ready=False with
    an Event, no scheduled runs, and a run created by hand fails with no Job."""
    variables = {
        "nodeSelector": {"kubernetes.io/hostname": "control-plane"},
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "admin", "key": "t"}}}],
    }
    apply(
        crds,
        namespace,
        flow(),
        pool(),
        deployment("grab", jobVariables=variables, schedules=[{"interval": 2}]),
    )
    condition = wait_for(
        lambda: (c := ready(crds, namespace, "grab")).get("reason") == "JobVariablesRefused" and c,
        what="Ready=False JobVariablesRefused",
    )
    assert condition["status"] == "False"
    assert "nodeSelector is not among the WorkPool's allowedJobVariables" in condition["message"]
    assert "env is not among" in condition["message"]
    events = crds.get_json("events", "-n", namespace)["items"]
    assert any(
        e["reason"] == "JobVariablesRefused" and e["involvedObject"]["name"] == "grab"
        for e in events
    )
    # A run scheduled before the operator's scheduler saw the pool (both watches start
    # together) is possible; once Ready=False, the 2 s interval creates none.
    before = runs(crds, namespace)
    time.sleep(5)
    assert runs(crds, namespace) == before
    apply(crds, namespace, flow_run("by-hand", "grab"))
    for name in [*before, "by-hand"]:
        status = wait_state(crds, namespace, name, "Failed", reason="JobVariablesRefused")
        assert "no Job created" in status["message"] and "nodeSelector" in status["message"]
    assert jobs(crds, namespace) == []


def runs(cluster: Cluster, namespace: str) -> list[str]:
    return sorted(
        r["metadata"]["name"] for r in cluster.get_json("flowruns", "-n", namespace)["items"]
    )


def test_a_field_the_pool_allows_still_reaches_the_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """Allowing env (and keeping resources) lets the Deployment set them; the Job has both."""
    variables = {
        "env": [{"name": "REGION", "value": "eu-west"}],
        "resources": {"limits": {"memory": "256Mi"}},
    }
    apply(
        crds,
        namespace,
        flow(),
        pool(allowedJobVariables=["env", "resources"]),
        deployment("ok", jobVariables=variables),
    )
    wait_for(lambda: ready(crds, namespace, "ok").get("status") == "True", what="Ready=True")
    apply(crds, namespace, flow_run("r1", "ok"))
    wait_state(crds, namespace, "r1", "Pending", reason="JobCreated")
    [job] = jobs(crds, namespace)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "REGION", "value": "eu-west"} in container["env"]
    assert container["resources"] == {"limits": {"memory": "256Mi"}}
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]


# --- code execution across identities: the task cache ----------------------------------


class Payload:
    """What a hostile flow plants: unpickling it writes ``marker`` (proof of execution)
    and yields ``result``, a value the victim's task would accept."""

    def __init__(self, marker: Path, result: str) -> None:
        self.marker, self.result = marker, result

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (eval, (f"(open({str(self.marker)!r}, 'w').write('pwned'), {self.result})[1]",))


def run_flow(
    cluster: Cluster, namespace: str, name: str, entrypoint: str, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """kubelet: the pod's command (``baton execute``) as a local process with the pod's
    environment, for a FlowRun created here; returns it and the run's task counts."""
    apply(cluster, namespace, {**flow_run(name), "spec": {"flowRef": {"name": "f"}}})
    uid = cluster.get_json("flowrun", name, "-n", namespace)["metadata"]["uid"]
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", "execute"],
        cwd=FLOWS,
        env={
            **{k: v for k, v in os.environ.items() if k != "BATON_CACHE_KEY"},
            "KUBECONFIG": str(cluster.kubeconfig),
            "BATON_FLOW_RUN_NAME": name,
            "BATON_FLOW_RUN_NAMESPACE": namespace,
            "BATON_FLOW_RUN_UID": uid,
            "BATON_ENTRYPOINT": entrypoint,
            "BATON_ATTEMPT": "1",
            "BATON_CACHE_DIR": str(tmp_path / "unused-local-cache"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done, run_status(cluster, namespace, name)["taskRuns"]["counts"]


def cache_entries(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return list(
        cluster.get_json("configmaps", "-n", namespace, "-l", "baton.dev/cache=true")["items"]
    )


def plant(cluster: Cluster, namespace: str, name: str, payload: bytes) -> None:
    """What any runner pod of the namespace may do: patch a cache ConfigMap."""
    patch = {
        "metadata": {"annotations": {"baton.dev/serializer": "pickle"}},
        "binaryData": {"payload": base64.b64encode(payload).decode()},
    }
    cluster.kubectl(
        "patch", "configmap", name, "-n", namespace, "--type=merge", "-p", json.dumps(patch)
    )


def test_a_planted_pickle_cache_entry_is_refused_and_not_executed(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Without an integrity key the cache is JSON only: a pickle planted over the
    victim's entry is refused with a warning, the task runs, the payload never runs."""
    apply(crds, namespace, flow(entrypoint="tenant_flows.py:victim"))
    _, counts = run_flow(crds, namespace, "v1", "tenant_flows.py:victim", tmp_path)
    assert counts == {"Completed": 1}
    [entry] = cache_entries(crds, namespace)
    assert entry["metadata"]["annotations"]["baton.dev/serializer"] == "json"
    marker = tmp_path / "pwned"
    payload = Payload(marker, "{'day': 'x', 'rows': 99}")
    plant(crds, namespace, entry["metadata"]["name"], pickle.dumps(payload))

    done, counts = run_flow(crds, namespace, "v2", "tenant_flows.py:victim", tmp_path)
    assert not marker.exists(), "the planted pickle ran"
    assert "refusing task cache entry " + entry["metadata"]["name"] in done.stderr
    assert "no cache integrity key" in done.stderr
    assert counts == {"Completed": 1}  # a miss: the task ran
    assert not marker.exists()


def test_a_forged_entry_fails_the_identity_key_and_identities_do_not_share_entries(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """With BATON_CACHE_KEY, pickles are cached (signed); a payload planted over the
    signed entry is refused, and another key (another identity) never reads it."""
    apply(crds, namespace, flow(entrypoint="tenant_flows.py:pickled_victim"))
    entrypoint = "tenant_flows.py:pickled_victim"
    victim_key = {"BATON_CACHE_KEY": "victim-identity-key"}
    _, counts = run_flow(crds, namespace, "p1", entrypoint, tmp_path, **victim_key)
    assert counts == {"Completed": 1}
    _, counts = run_flow(crds, namespace, "p2", entrypoint, tmp_path, **victim_key)
    assert counts == {"Cached": 1}  # a pickle, read back because its signature holds
    [entry] = cache_entries(crds, namespace)
    assert entry["metadata"]["annotations"]["baton.dev/serializer"] == "pickle"
    assert "victim-identity-key" not in json.dumps(entry)

    marker = tmp_path / "pwned"
    payload = Payload(marker, "('x', 99)")
    plant(crds, namespace, entry["metadata"]["name"], pickle.dumps(payload))
    done, counts = run_flow(crds, namespace, "p3", entrypoint, tmp_path, **victim_key)
    assert not marker.exists(), "the planted pickle ran"
    assert "refusing task cache entry " + entry["metadata"]["name"] in done.stderr
    assert "signature does not match" in done.stderr
    assert counts == {"Completed": 1}
    assert not marker.exists()

    # Another identity (its own key) has entries of its own and never reads the victim's.
    other = {"BATON_CACHE_KEY": "other-identity-key"}
    _, counts = run_flow(crds, namespace, "o1", entrypoint, tmp_path, **other)
    assert counts == {"Completed": 1}
    assert len(cache_entries(crds, namespace)) == 2
    # No key at all: the tuple is not cached (pickle needs a key), and the run completes.
    done, counts = run_flow(crds, namespace, "n1", entrypoint, tmp_path)
    assert counts == {"Completed": 1} and "The result was not cached" in done.stderr
    assert len(cache_entries(crds, namespace)) == 2
    assert not marker.exists()


# --- entrypoints -------------------------------------------------------------------------

ESCAPES = ("../outside/evil.py:main", "{outside}/evil.py:main", "link/evil.py:main")


@pytest.mark.parametrize("entrypoint", ["../../etc/x.py:main", "/abs/path.py:main", "a/..:m"])
def test_an_entrypoint_outside_the_code_root_is_refused_at_admission(
    crds: Cluster, namespace: str, entrypoint: str
) -> None:
    message = refusal(crds, namespace, flow("escape", entrypoint=entrypoint))
    assert "entrypoint must be relative to the code root" in message, message


@pytest.mark.parametrize("escape", ESCAPES)
def test_an_entrypoint_outside_the_code_root_is_refused_before_import(
    crds: Cluster, namespace: str, tmp_path: Path, escape: str
) -> None:
    """The runtime (a pod, or a process worker's child) refuses a path out of its code
    root — by '..', absolute, or through a symlink — without importing it: the module
    would write a marker on import."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    marker = tmp_path / "imported"
    (outside / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (root / "link").symlink_to(outside)
    entrypoint = escape.format(outside=outside)
    apply(crds, namespace, {**flow_run("escape"), "spec": {"flowRef": {"name": "f"}}})
    uid = crds.get_json("flowrun", "escape", "-n", namespace)["metadata"]["uid"]
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", "execute"],
        cwd=root,
        env={
            **os.environ,
            "KUBECONFIG": str(crds.kubeconfig),
            "BATON_FLOW_RUN_NAME": "escape",
            "BATON_FLOW_RUN_NAMESPACE": namespace,
            "BATON_FLOW_RUN_UID": uid,
            "BATON_ENTRYPOINT": entrypoint,
            "BATON_ATTEMPT": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    runtime = run_status(crds, namespace, "escape")["runtime"]
    assert runtime["state"] == "Failed"
    assert "code root" in runtime["message"], runtime["message"]
    assert not marker.exists()


# --- code from a ConfigMap: pinned by digest in the Flow ---------------------------------

CODE = """
from baton import flow


@flow
def hello() -> int:
    return 7
"""


def test_a_rewritten_source_config_map_is_refused_before_import(
    operator: OperatorProcess, crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """A flow pod may write ConfigMaps (the task cache), so it may rewrite a Flow's
    source.configMap; the Flow pins the digest and the runtime refuses changed code
    without importing it. The untouched code runs."""
    from baton.resources.flow import source_digest  # noqa: PLC0415

    files = {"hello.py": CODE}
    crds.kubectl("create", "configmap", "code", "-n", namespace, f"--from-literal=hello.py={CODE}")
    digest = source_digest({k: v.encode() for k, v in files.items()})
    apply(
        crds,
        namespace,
        flow(entrypoint="hello.py:hello", source={"configMap": {"name": "code", "sha256": digest}}),
        pool(),
        deployment(),
    )
    marker = tmp_path / "imported"
    hostile = CODE + f"\nopen({str(marker)!r}, 'w').write('x')\n"

    def kubelet(run: str) -> subprocess.CompletedProcess[str]:
        """kubelet: mount the ConfigMap as files and run the Job's command in them."""
        apply(crds, namespace, flow_run(run))
        job = wait_for(lambda: next(iter(jobs_of(crds, namespace, run)), None), what="a Job")
        mount = tmp_path / run
        mount.mkdir()
        data = crds.get_json("configmap", "code", "-n", namespace)["data"]
        for name, content in data.items():
            (mount / name).write_text(content)
        env = {
            e["name"]: e.get("value", "")
            for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        return subprocess.run(
            [sys.executable, "-m", "baton.cli", "execute"],
            cwd=mount,
            env={**os.environ, **env, "KUBECONFIG": str(crds.kubeconfig)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert kubelet("honest").returncode == 0
    assert run_status(crds, namespace, "honest")["runtime"]["state"] == "Completed"
    # A flow pod's rights (the runner Role may patch ConfigMaps) rewrite the code.
    crds.kubectl(
        "patch",
        "configmap",
        "code",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"data": {"hello.py": hostile}}),
    )
    done = kubelet("rewritten")
    assert done.returncode != 0
    assert not marker.exists(), "the rewritten code was imported"
    runtime = run_status(crds, namespace, "rewritten")["runtime"]
    assert runtime["state"] == "Failed" and "source.configMap.sha256" in runtime["message"]


def jobs_of(cluster: Cluster, namespace: str, run: str) -> list[dict[str, Any]]:
    return [
        j for j in jobs(cluster, namespace) if j["metadata"]["ownerReferences"][0]["name"] == run
    ]


# --- a healthy victim next door ----------------------------------------------------------


def test_a_victim_in_another_namespace_keeps_its_schedule_during_the_attacks(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """One operator serves the attacker's namespace and a victim's. While the attacker
    churns Deployments whose jobVariables are refused (CEL and pool), flips its pool's
    allowedJobVariables (each flip re-plans its Deployments) and starts runs that fail,
    the victim's 5-second interval gets every FlowRun, exactly once, within 1 s of its
    fire time (creationTimestamp has 1 s resolution)."""
    victim_ns = f"{namespace}-victim"
    crds.kubectl("create", "namespace", victim_ns)
    operator = OperatorProcess(crds, namespace, tmp_path, also=(victim_ns,))
    operator.start()
    try:
        apply(crds, victim_ns, flow(), pool(), deployment("victim", schedules=[{"interval": 5}]))
        apply(crds, namespace, flow(), pool())
        hostile = {"nodeSelector": {"a": "b"}, "env": [{"name": "X", "value": "y"}]}
        started = time.monotonic()
        round_ = 0
        while time.monotonic() - started < 30:
            apply(
                crds,
                namespace,
                pool(allowedJobVariables=["env"] if round_ % 2 else ["nodeSelector"]),
                *[
                    deployment(f"h{i}", jobVariables=hostile, schedules=[{"interval": 1}])
                    for i in range(10)
                ],
                *[flow_run(f"h{i}-r{round_}", f"h{i}") for i in range(10)],
            )
            refusal(crds, namespace, deployment("sa", jobVariables={"serviceAccountName": "x"}))
            round_ += 1
        victims = crds.get_json("flowruns", "-n", victim_ns)["items"]
        skews = {
            r["metadata"]["name"]: (
                _time(r["metadata"]["creationTimestamp"]) - _time(r["spec"]["scheduledTime"])
            )
            for r in victims
        }
        fires = sorted(_time(r["spec"]["scheduledTime"]) for r in victims)
        assert len(fires) >= 5, skews
        assert len(set(fires)) == len(fires)  # exactly once
        assert all(b - a == 5 for a, b in itertools.pairwise(fires)), fires  # none lost
        assert max(skews.values()) <= 1, skews
        print(f"victim: {len(fires)} runs, worst skew {max(skews.values()):.0f} s")  # figures
        assert jobs(crds, namespace) == []  # no hostile run got a Job
    finally:
        operator.stop()
        crds.kubectl("delete", "namespace", victim_ns, "--wait=false", check=False)
    assert "Traceback" not in operator.logs(), operator.logs()[-5000:]


def _time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- generated jobVariables against generated pools -------------------------------------

VARIABLE_VALUES: dict[str, list[Any]] = {
    "serviceAccountName": ["admin"],
    "securityContext": [{"privileged": True}, {"runAsUser": 0}],
    "podSecurityContext": [{"runAsUser": 0}],
    "volumes": [
        [{"name": "h", "hostPath": {"path": "/"}}],
        [{"name": "e", "emptyDir": {}}],
    ],
    "volumeMounts": [[{"name": "e", "mountPath": "/data"}]],
    "env": [[{"name": "A", "value": "1"}], [{"name": "BATON_ATTEMPT", "value": "9"}]],
    "envFrom": [[{"secretRef": {"name": "s"}}]],
    "resources": [{"limits": {"memory": "1Gi"}}],
    "nodeSelector": [{"disk": "ssd"}],
    "tolerations": [[{"operator": "Exists"}]],
    "labels": [{"team": "x"}],
    "annotations": [{"a": "b"}],
    "priorityClassName": ["high"],
    "imagePullPolicy": ["Always"],
    "ttlSecondsAfterFinished": [60],
    "activeDeadlineSeconds": [30],
    "imagePullSecrets": [["pull"]],
}
job_variables = st.dictionaries(
    st.sampled_from(sorted(VARIABLE_VALUES)), st.just(None), max_size=4
).flatmap(
    lambda keys: st.fixed_dictionaries({k: st.sampled_from(VARIABLE_VALUES[k]) for k in keys})
)


def against_the_operator(max_examples: int) -> settings:
    """Hypothesis settings for examples run against the real operator (slow, fixtures)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: A fresh number per generated example: object names are never reused.
EXAMPLES = itertools.count()
#: The rules, written out independently of the code under test (the oracle).
NEVER_ALLOWED = {"serviceAccountName", "securityContext", "podSecurityContext"}
DEFAULT_ALLOWED = {
    "resources",
    "imagePullPolicy",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
}


def forbidden(variables: dict[str, Any]) -> bool:
    """What no pool may allow: identity, privilege, hostPath, Baton's own variables."""
    return bool(
        NEVER_ALLOWED & set(variables)
        or any("hostPath" in v for v in variables.get("volumes", []))
        or any(e["name"].startswith("BATON_") for e in variables.get("env", []))
    )


allowed_lists = st.one_of(
    st.none(), st.lists(st.sampled_from([str(v) for v in JobVariable]), unique=True, max_size=6)
)


@against_the_operator(max_examples=15)
@given(variables=job_variables, allowed=allowed_lists)
def test_generated_job_variables_get_the_verdict_the_rules_give(
    operator: OperatorProcess,
    crds: Cluster,
    namespace: str,
    variables: dict[str, Any],
    allowed: list[str] | None,
) -> None:
    """Random jobVariables against a random allowedJobVariables: refused at admission
    exactly when no pool may allow them, otherwise the Deployment's Ready condition (read
    at its observedGeneration) says JobVariablesRefused exactly when the pool's rules do.
    Every example has names of its own (Hypothesis repeats and shrinks examples)."""
    index = next(EXAMPLES)
    pool_name, name = f"p-{index}", f"d-{index}"
    apply(
        crds,
        namespace,
        flow(),
        pool(pool_name, **({} if allowed is None else {"allowedJobVariables": allowed})),
    )
    # The pool's status is written after the operator handled its event (the scheduler
    # sees it first): from then on, its Deployments are planned against it.
    wait_for(
        lambda: (
            (p := crds.get_json("workpools.baton.dev", pool_name, "-n", namespace))
            .get("status", {})
            .get("observedGeneration")
            == p["metadata"]["generation"]
        ),
        what=f"{pool_name} observed",
    )
    body = deployment(name, jobVariables=variables, workPoolRef={"name": pool_name})
    done = crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
    never = forbidden(variables)
    if done.returncode != 0:
        assert never, done.stderr  # refused only for what no pool may allow
        assert "WorkPool owner" in done.stderr or "Baton sets" in done.stderr, done.stderr
        return
    assert not never, f"admitted {variables}"
    stored = crds.get_json("deployments.baton.dev", name, "-n", namespace)
    expected = set(variables) - set(DEFAULT_ALLOWED if allowed is None else allowed)
    condition = wait_for(
        lambda: (
            (c := ready(crds, namespace, name)).get("observedGeneration")
            == stored["metadata"]["generation"]
            and c
        ),
        what=f"{name} Ready at its generation",
    )
    assert (condition["reason"] == "JobVariablesRefused") == bool(expected), (condition, expected)
    assert (condition["status"] == "False") == bool(expected), condition


# --- generated parameter schemas and rrules, with verdicts known by construction -------

#: Schema fragments and whether each is valid, labelled by hand (the oracle): a schema
#: built from them is invalid exactly when one fragment is.
SCHEMA_FRAGMENTS: list[tuple[dict[str, Any], bool]] = [
    ({"type": "string"}, True),
    ({"type": "integer", "minimum": 0, "maximum": 10}, True),
    ({"type": "string", "pattern": "^(a+)+$"}, True),  # catastrophic for backtracking only
    ({"type": "string", "pattern": "^[a-z]{1,8}$"}, True),
    ({"enum": [1, "two", None]}, True),
    ({"type": "array", "items": {"type": "number"}, "uniqueItems": True}, True),
    ({"type": "object", "patternProperties": {"^x-": {"type": "boolean"}}}, True),
    ({"type": 5}, False),
    ({"type": "string", "pattern": "("}, False),
    ({"type": "string", "pattern": "(?=a)b"}, False),  # look-ahead: not linear-time
    ({"type": "string", "pattern": "(a)\\1"}, False),  # back-reference
    ({"minimum": "zero"}, False),
    ({"required": "name"}, False),
]
schemas = st.lists(st.sampled_from(SCHEMA_FRAGMENTS), min_size=1, max_size=4)

#: rrules and whether they ever fire again, labelled by hand.
RRULES: list[tuple[str, bool]] = [
    ("FREQ=DAILY", True),
    ("FREQ=MONTHLY;BYMONTHDAY=31", True),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", True),  # leap years
    ("FREQ=WEEKLY;BYDAY=MO,FR", True),
    ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", False),
    ("FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31", False),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", False),
    ("FREQ=DAILY;UNTIL=20000101T000000Z", False),  # ended long ago
]
rrules = st.tuples(st.sampled_from(RRULES), st.integers(0, 23))


def _condition_at_generation(
    cluster: Cluster, resource: str, namespace: str, name: str
) -> dict[str, Any]:
    return wait_for(
        lambda: ready_at_generation(cluster, resource, namespace, name),
        timeout=20,
        what=f"{name} Ready at its generation",
    )


@against_the_operator(max_examples=12)
@given(fragments=schemas)
def test_generated_parameter_schemas_get_the_verdict_they_were_built_with(
    operator: OperatorProcess,
    crds: Cluster,
    namespace: str,
    fragments: list[tuple[dict[str, Any], bool]],
) -> None:
    name = f"schema-{next(EXAMPLES)}"
    schema = {
        "type": "object",
        "properties": {f"p{i}": fragment for i, (fragment, _) in enumerate(fragments)},
    }
    valid = all(ok for _, ok in fragments)
    apply(crds, namespace, flow(name, parameterSchema=schema))
    ready = _condition_at_generation(crds, "flows.baton.dev", namespace, name)
    assert (ready["status"] == "True") == valid, (ready, schema)
    if not valid:
        assert ready["reason"] == "InvalidParameterSchema", ready
    assert operator.procs[-1].poll() is None, "the operator crashed"


@against_the_operator(max_examples=12)
@given(rule=rrules)
def test_generated_rrules_get_the_verdict_they_were_built_with(
    operator: OperatorProcess,
    crds: Cluster,
    namespace: str,
    rule: tuple[tuple[str, bool], int],
) -> None:
    (rrule, fires), hour = rule
    name = f"rrule-{next(EXAMPLES)}"
    schedule = {"rrule": f"{rrule};BYHOUR={hour};BYMINUTE=0;BYSECOND=0"}
    apply(crds, namespace, flow(), deployment(name, schedules=[schedule]))
    ready = _condition_at_generation(crds, "deployments.baton.dev", namespace, name)
    assert (ready["status"] == "True") == fires, (ready, schedule)
    if not fires:
        assert ready["reason"] == "NeverFires", ready
    assert operator.procs[-1].poll() is None, "the operator crashed"
