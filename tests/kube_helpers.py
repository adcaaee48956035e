"""Helpers for tests that play the kubelet's or the runtime's part against a real API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from clusterkit import Cluster

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.3,
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def flow(name: str = "f", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "Flow",
        "metadata": {"name": name},
        "spec": {"image": "baton-examples:0.1.0", "entrypoint": "flows/etl.py:etl", **spec},
    }


def pool(name: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "WorkPool",
        "metadata": {"name": name},
        "spec": spec,
    }


def deployment(name: str = "d", flow_name: str = "f", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"flowRef": {"name": flow_name}, **spec},
    }


def flow_run(name: str, deployment_name: str = "d", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "FlowRun",
        "metadata": {"name": name},
        "spec": {"deploymentRef": {"name": deployment_name}, **spec},
    }


def run_status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get_json("flowrun", name, "-n", namespace).get("status") or {})


def wait_state(
    cluster: Cluster,
    namespace: str,
    name: str,
    *states: str,
    reason: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Wait until the run is in one of ``states`` (and, if given, has ``reason``).

    Waiting for the reason too matters where a run passes through a transient reason
    first, e.g. ``Missing`` while the operator's cache has not yet seen its WorkPool.
    """
    return wait_for(
        lambda: (
            (s := run_status(cluster, namespace, name)).get("state") in states
            and (reason is None or s.get("reason") == reason)
            and s
        ),
        timeout=timeout,
        what=f"{name} in {states}" + (f" with reason {reason}" if reason else ""),
    )


def jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return list(cluster.get_json("jobs", "-n", namespace)["items"])


def pod_of(cluster: Cluster, namespace: str, job: str) -> dict[str, Any] | None:
    items = cluster.get_json("pods", "-n", namespace, "-l", f"batch.kubernetes.io/job-name={job}")[
        "items"
    ]
    return items[0] if items else None


def report(
    cluster: Cluster, namespace: str, name: str, state: str, message: str = "", attempt: int = 1
) -> None:
    """Play the in-pod runtime: write its report (the runtime itself is tested elsewhere)."""
    runtime = {
        "state": state,
        "message": message,
        "timestamp": now(),
        "attempt": attempt,
        "startTime": now(),
    }
    if state not in ("Running", "Retrying"):
        runtime["endTime"] = now()
    patch_run_status(cluster, namespace, name, {"runtime": runtime})


def patch_run_status(cluster: Cluster, namespace: str, name: str, status: dict[str, Any]) -> None:
    """Merge ``status`` into the FlowRun's status, as admin (or as a pod could, unchecked)."""
    cluster.kubectl(
        "patch",
        "flowrun",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def set_pod_status(cluster: Cluster, namespace: str, pod: str, status: dict[str, Any]) -> None:
    """Play the kubelet: write the pod's status."""
    cluster.kubectl(
        "patch",
        "pod",
        pod,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def terminated(exit_code: int, reason: str = "Error") -> dict[str, Any]:
    stamp = now()
    return {
        "phase": "Failed" if exit_code else "Succeeded",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {
                "name": "flow",
                "image": "baton-examples:0.1.0",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": reason,
                        "startedAt": stamp,
                        "finishedAt": stamp,
                    }
                },
            }
        ],
    }


def ready_at_generation(
    cluster: Cluster, resource: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """The object's Ready condition if it was written for its current generation."""
    body = cluster.get_json(resource, name, "-n", namespace)
    conditions = (body.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c["type"] == "Ready"), None)
    if ready and ready.get("observedGeneration") == body["metadata"]["generation"]:
        return dict(ready)
    return None
