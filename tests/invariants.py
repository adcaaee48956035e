"""An invariant recorder for fault tests: real watches on Jobs, pods and FlowRuns, a
check on every event.

A fault test starts ``Invariants`` before its workload and reads it afterwards. Three
watches (list, then watch from the list's resourceVersion; reconnect from the last
version seen when the API server goes away; list again on ``410 Gone``) feed one lock,
and each event is checked against what the operator promises:

- **at most one live Job per run attempt** — live: not finished and not being deleted;
  and never two Jobs (two UIDs) for one attempt over the whole test;
- **never more live runs than a limit** — per Deployment and per pool, as the test
  states them; a run is live while its state is an admitted one, and a Job while it is
  live (each watch is a consistent sequence, so each is counted on its own stream);
- **no state regression** — a FlowRun (by UID) in a terminal state never shows a
  non-terminal one again;
- **every fire time ends in exactly one terminal run** — ``check_fire_times`` counts
  every UID ever seen per (Deployment, scheduled time), deleted ones included;
- **each flow body executed exactly once per attempt** — flows that write a marker
  file per execution (``fault_flows.marked``): ``check_executions`` counts them.

The operator's naming scheme cannot make these pass: a run recreated under its name has
a new UID, a Job recreated for an attempt has a new UID, a second execution writes a
second marker. Nothing here uses the operator's code.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

TERMINAL = {"Completed", "Failed", "Crashed", "Cancelled", "TimedOut"}
LIVE_RUN = {"Pending", "Running", "Retrying", "Cancelling"}
RUN_LABEL = "baton.dev/flow-run"
ATTEMPT_LABEL = "baton.dev/attempt"

Body = dict[str, Any]


def _api(kubeconfig: Path) -> tuple[str, dict[str, str], str]:
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    user = next(u for u in config["users"] if u["name"] == context["context"]["user"])
    headers = {"Authorization": f"Bearer {user['user']['token']}"}
    return cluster["cluster"]["server"], headers, cluster["cluster"]["certificate-authority"]


class Watch:
    """One resource of one namespace: ``on_event(type, body)`` for every change, in order.

    Survives an API server or etcd that goes away (it reconnects from the last version
    it saw) and a compacted history (``410``: it lists again and replays the difference
    as events, so no change is silently skipped).
    """

    def __init__(
        self,
        kubeconfig: Path,
        path: str,
        on_event: Callable[[str, Body], None],
    ) -> None:
        self.server, self.headers, self.ca = _api(kubeconfig)
        self.path, self.on_event = path, on_event
        self.known: dict[str, Body] = {}  # by uid
        self.resource_version = ""
        self.relists = self.reconnects = 0
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"watch {path}")

    def start(self) -> None:
        self._thread.start()
        if not self.synced.wait(30):
            raise AssertionError(f"the watch of {self.path} never listed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _emit(self, kind: str, body: Body) -> None:
        uid = body["metadata"]["uid"]
        if kind == "DELETED":
            self.known.pop(uid, None)
        else:
            self.known[uid] = body
        self.on_event(kind, body)

    def _list(self, client: httpx.Client) -> None:
        response = client.get(self.path, timeout=30)
        response.raise_for_status()
        listed = response.json()
        current = {item["metadata"]["uid"]: item for item in listed["items"]}
        for uid, old in list(self.known.items()):
            if uid not in current:
                self._emit("DELETED", old)
        for uid, item in current.items():
            old = self.known.get(uid)
            if (
                old is None
                or old["metadata"]["resourceVersion"] != item["metadata"]["resourceVersion"]
            ):
                self._emit("ADDED" if old is None else "MODIFIED", item)
        self.resource_version = listed["metadata"]["resourceVersion"]
        self.synced.set()

    def _watch(self, client: httpx.Client) -> None:
        params = {
            "watch": "1",
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "60",
        }
        with client.stream("GET", self.path, params=params, timeout=httpx.Timeout(90)) as response:
            if response.status_code == 410:
                self.resource_version = ""
                return
            response.raise_for_status()
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    if event["object"].get("code") == 410:
                        self.resource_version = ""  # compacted: list again
                    return
                self.resource_version = event["object"]["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._emit(event["type"], event["object"])

    def _run(self) -> None:
        verify = ssl.create_default_context(cafile=self.ca)
        with httpx.Client(base_url=self.server, headers=self.headers, verify=verify) as client:
            while not self._stop.is_set():
                try:
                    if not self.resource_version:
                        if self.synced.is_set():
                            self.relists += 1
                        self._list(client)
                    self._watch(client)
                except (httpx.HTTPError, json.JSONDecodeError):
                    self.reconnects += 1
                    self._stop.wait(0.5)


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _job_live(job: Body) -> bool:
    if job["metadata"].get("deletionTimestamp"):
        return False
    return not any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def _run_uid(obj: Body) -> str | None:
    return next(
        (
            o["uid"]
            for o in obj["metadata"].get("ownerReferences") or []
            if o.get("kind") == "FlowRun" and o.get("controller")
        ),
        None,
    )


class Invariants:
    """Watches a namespace's Jobs, pods and FlowRuns; records every broken invariant.

    ``deployment_limits`` / ``pool_limits``: the concurrency limit of each, by name.
    """

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        *,
        deployment_limits: dict[str, int] | None = None,
        pool_limits: dict[str, int] | None = None,
    ) -> None:
        self.namespace = namespace
        self.deployment_limits = deployment_limits or {}
        self.pool_limits = pool_limits or {}
        self.violations: list[str] = []
        self.events: Counter[str] = Counter()
        self._lock = threading.Lock()
        # Jobs
        self.jobs: dict[str, Body] = {}  # by uid, as last seen (deleted ones kept)
        self._job_uids_of_attempt: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.max_live_jobs_per_attempt = 0
        self.max_live_jobs: Counter[str] = Counter()  # per Deployment label
        # FlowRuns
        self.runs: dict[str, Body] = {}  # by uid, as last seen (deleted ones kept)
        self._live_runs: dict[str, tuple[str, str]] = {}  # uid -> (deployment, pool)
        self.max_live_runs: Counter[str] = Counter()  # "deployment/x" or "pool/y"
        self.terminal_seen: set[str] = set()
        self.regressions = 0
        self.pods: dict[str, Body] = {}
        base = f"/namespaces/{namespace}"
        self._watches = [
            Watch(kubeconfig, f"/apis/batch/v1{base}/jobs", self._on("job", self._job)),
            Watch(kubeconfig, f"/api/v1{base}/pods", self._on("pod", self._pod)),
            Watch(
                kubeconfig,
                f"/apis/baton.dev/v1alpha1{base}/flowruns",
                self._on("flowrun", self._run),
            ),
        ]

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Invariants:
        for watch in self._watches:
            watch.start()
        return self

    def __exit__(self, *_: object) -> None:
        for watch in self._watches:
            watch.stop()

    def _on(self, kind: str, handler: Callable[[str, Body], None]) -> Callable[[str, Body], None]:
        def on_event(event_type: str, body: Body) -> None:
            with self._lock:
                self.events[kind] += 1
                handler(event_type, body)

        return on_event

    def _violate(self, message: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(message)

    # -- per event ----------------------------------------------------------------------
    def _job(self, event_type: str, job: Body) -> None:
        uid, name = job["metadata"]["uid"], job["metadata"]["name"]
        self.jobs[uid] = {**job, "_deleted": event_type == "DELETED"}
        labels = job["metadata"].get("labels") or {}
        run_uid = _run_uid(job)
        if run_uid is None:
            return
        attempt = (run_uid, labels.get(ATTEMPT_LABEL, "?"))
        self._job_uids_of_attempt[attempt].add(uid)
        if len(self._job_uids_of_attempt[attempt]) > 1:
            self._violate(f"Job {name}: attempt {attempt[1]} of its run has a second Job")
        live = [
            j
            for j in self.jobs.values()
            if not j["_deleted"]
            and _job_live(j)
            and _run_uid(j) == run_uid
            and (j["metadata"].get("labels") or {}).get(ATTEMPT_LABEL) == attempt[1]
        ]
        self.max_live_jobs_per_attempt = max(self.max_live_jobs_per_attempt, len(live))
        if len(live) > 1:
            self._violate(f"Job {name}: {len(live)} live Jobs for one attempt")
        deployment = labels.get("baton.dev/deployment")
        limit = self.deployment_limits.get(deployment or "")
        if deployment and limit is not None:
            count = sum(
                1
                for j in self.jobs.values()
                if not j["_deleted"]
                and _job_live(j)
                and (j["metadata"].get("labels") or {}).get("baton.dev/deployment") == deployment
            )
            self.max_live_jobs[deployment] = max(self.max_live_jobs[deployment], count)
            if count > limit:
                self._violate(f"Deployment {deployment}: {count} live Jobs, limit {limit}")

    def _pod(self, event_type: str, pod: Body) -> None:
        if event_type == "DELETED":
            self.pods.pop(pod["metadata"]["uid"], None)
        else:
            self.pods[pod["metadata"]["uid"]] = pod

    def _run(self, event_type: str, run: Body) -> None:
        uid, name = run["metadata"]["uid"], run["metadata"]["name"]
        self.runs[uid] = {**run, "_deleted": event_type == "DELETED"}
        status = run.get("status") or {}
        state = status.get("state")
        if uid in self.terminal_seen and state not in TERMINAL and event_type != "DELETED":
            self.regressions += 1
            self._violate(f"FlowRun {name}: terminal, then {state}")
        if state in TERMINAL:
            self.terminal_seen.add(uid)
        spec = run.get("spec") or {}
        deployment = (spec.get("deploymentRef") or {}).get("name", "")
        pool = status.get("workPool") or (spec.get("workPoolRef") or {}).get("name", "")
        if state in LIVE_RUN and event_type != "DELETED":
            self._live_runs[uid] = (deployment, pool)
        else:
            self._live_runs.pop(uid, None)
        for scope, name_, limits in (
            ("deployment", deployment, self.deployment_limits),
            ("pool", pool, self.pool_limits),
        ):
            if name_ not in limits:
                continue
            index = 0 if scope == "deployment" else 1
            count = sum(1 for v in self._live_runs.values() if v[index] == name_)
            self.max_live_runs[f"{scope}/{name_}"] = max(
                self.max_live_runs[f"{scope}/{name_}"], count
            )
            if count > limits[name_]:
                self._violate(f"{scope} {name_}: {count} live runs, limit {limits[name_]}")

    # -- after the workload -------------------------------------------------------------
    def snapshot_runs(self) -> list[Body]:
        with self._lock:
            return [r for r in self.runs.values() if not r["_deleted"]]

    def all_terminal(self) -> bool:
        runs = self.snapshot_runs()
        return bool(runs) and all((r.get("status") or {}).get("state") in TERMINAL for r in runs)

    def check_fire_times(
        self, expected: Mapping[str, Iterable[datetime]], *, terminal: bool = True
    ) -> dict[str, int]:
        """Every expected fire time of each Deployment has exactly one run (one UID ever
        seen, deleted ones included) and, with ``terminal``, it ended. Returns runs per
        Deployment."""
        with self._lock:
            by_time: dict[tuple[str, datetime], list[Body]] = defaultdict(list)
            for run in self.runs.values():
                spec = run.get("spec") or {}
                if spec.get("scheduledTime"):
                    deployment = (spec.get("deploymentRef") or {}).get("name", "")
                    by_time[(deployment, _stamp(spec["scheduledTime"]))].append(run)
            for key, runs in by_time.items():
                if len(runs) > 1:
                    self._violate(f"{key[0]} at {key[1]:%H:%M:%S}: {len(runs)} runs (UIDs)")
            counts: dict[str, int] = {}
            for deployment, times in expected.items():
                counts[deployment] = 0
                for moment in times:
                    runs = by_time.get((deployment, moment), [])
                    counts[deployment] += len(runs)
                    if not runs:
                        self._violate(f"{deployment} at {moment:%H:%M:%S}: no run")
                    elif terminal and (runs[0].get("status") or {}).get("state") not in TERMINAL:
                        state = (runs[0].get("status") or {}).get("state")
                        self._violate(f"{deployment} at {moment:%H:%M:%S}: ended {state}")
            return counts

    def check_executions(self, markers: Path, *, need_all: bool = True) -> Counter[str]:
        """Each attempt that ran executed its flow body exactly once; with ``need_all``,
        every Completed run's last attempt did run. Returns executions per state."""
        executed: Counter[tuple[str, str]] = Counter(
            tuple(p.name.split("@")[:2])  # type: ignore[misc]
            for p in markers.iterdir()
        )
        with self._lock:
            for (run, attempt), count in executed.items():
                if count > 1:
                    self._violate(f"{run} attempt {attempt}: flow body executed {count} times")
            by_state: Counter[str] = Counter()
            for body in self.runs.values():
                status = body.get("status") or {}
                name, attempt = body["metadata"]["name"], str(status.get("attempts", 0))
                ran = executed.get((name, attempt), 0)
                by_state[status.get("state") or "None"] += ran
                if need_all and status.get("state") == "Completed" and ran != 1:
                    self._violate(f"{name}: Completed, its attempt {attempt} executed {ran}x")
        return by_state

    def counters(self) -> dict[str, Any]:
        with self._lock:
            attempts = self._job_uids_of_attempt
            return {
                "events": dict(self.events),
                "runs": len(self.runs),
                "jobs": len(self.jobs),
                "attempts with a Job": len(attempts),
                "max Jobs per attempt": max((len(v) for v in attempts.values()), default=0),
                "max live Jobs per attempt": self.max_live_jobs_per_attempt,
                "max live runs": dict(self.max_live_runs),
                "max live Jobs": dict(self.max_live_jobs),
                "regressions": self.regressions,
                "relists": sum(w.relists for w in self._watches),
                "reconnects": sum(w.reconnects for w in self._watches),
                "violations": len(self.violations),
            }

    def assert_clean(self) -> None:
        with self._lock:
            assert not self.violations, "invariants broken:\n" + "\n".join(self.violations[:40])


class Kubelet:
    """Plays the kubelet for each Job of a namespace: runs its pod command (the real
    runtime, ``baton execute``) as a local process and, when it exits, writes the pod's
    terminated status — at most ``parallel`` at once, each Job (UID) once."""

    def __init__(
        self,
        cluster: Any,
        namespace: str,
        log_dir: Path,
        *,
        extra_env: dict[str, str],
        cwd: Path,
        parallel: int = 4,
    ) -> None:
        self.cluster, self.namespace, self.log_dir = cluster, namespace, log_dir
        self.extra_env, self.cwd, self.parallel = extra_env, cwd, parallel
        self.started: set[str] = set()
        self.exit_codes: Counter[int] = Counter()
        self._running: dict[str, tuple[Any, Body]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="kubelet")

    def __enter__(self) -> Kubelet:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for proc, _ in self._running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def _loop(self) -> None:
        from fault_support import start_pod_command  # noqa: PLC0415 (tests/faults)

        from kube_helpers import terminated  # noqa: PLC0415

        while not self._stop.is_set():
            for uid, (proc, job) in list(self._running.items()):
                code = proc.poll()
                if code is None:
                    continue
                name = job["metadata"]["name"]
                pods = self.cluster.kubectl(
                    "get", "pods", "-n", self.namespace, "-o", "json",
                    "-l", f"batch.kubernetes.io/job-name={name}", check=False,
                )  # fmt: skip
                if pods.returncode != 0:
                    continue  # API server away: try again
                items = json.loads(pods.stdout)["items"]
                for pod in items:
                    result = self.cluster.kubectl(
                        "patch", "pod", pod["metadata"]["name"], "-n", self.namespace,
                        "--subresource=status", "--type=merge",
                        "-p", json.dumps({"status": terminated(code)}), check=False,
                    )  # fmt: skip
                    if result.returncode != 0:
                        break
                else:
                    gone = not items and self.cluster.kubectl(
                        "get", "job", name, "-n", self.namespace, check=False
                    ).returncode != 0  # fmt: skip
                    if items or gone:
                        self.exit_codes[code] += 1
                        del self._running[uid]
            listed = self.cluster.kubectl("get", "jobs", "-n", self.namespace, "-o", "json",
                                          check=False)  # fmt: skip
            if listed.returncode == 0:
                for job in json.loads(listed.stdout)["items"]:
                    uid = job["metadata"]["uid"]
                    if uid in self.started or len(self._running) >= self.parallel:
                        continue
                    if job["metadata"].get("deletionTimestamp") or not _job_live(job):
                        continue
                    self.started.add(uid)
                    log = self.log_dir / f"pod-{job['metadata']['name']}.log"
                    proc = start_pod_command(
                        self.cluster, job, log, cwd=self.cwd, extra_env=self.extra_env
                    )
                    self._running[uid] = (proc, job)
            self._stop.wait(0.3)
