"""In-pod runtime → FlowRun status: batched, bounded, and never losing the final state.

The engine calls the reporter (a ``RunObserver``) from any thread; the reporter only
buffers. A flusher thread writes one merge patch to the FlowRun's status subresource at
most once per ``interval`` — and at once when the flow run itself changes state — on
the fields the runtime owns: ``runtime``, ``taskRuns``, ``artifacts``, ``result``,
``error``, ``pause`` and ``sourceCommit``. Everything is bounded so a run with 10,000 task runs
stays far below etcd's 1.5 MiB object limit: task runs become counts plus a short list
(failed first, then latest), artifacts and results are cut with a visible note, and an
artifact too large for the status is stored whole in a ConfigMap owned by the FlowRun.
Log records are never in the status: they go to the reporter's log sinks
(``baton.run_logs``), which ship in the same flush.

The API server may be down when the flow ends. Nothing is dropped then: a patch that
does not arrive leaves its fields pending, each retry renders the whole buffer afresh,
and ``close`` keeps retrying the final report for ``FINAL_REPORT_DEADLINE_SECONDS``
(back-off 0.5 s doubling to 10 s) before the runtime exits non-zero.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from baton import contract
from baton._kube.client import CONFIGMAPS, FLOWRUNS, ApiError, KubeClient, NotFound
from baton._kube.events import CORE_EVENTS, build_event
from baton.contract import FINAL_STATE_TYPES, owner_reference
from baton.contract import format_time as _stamp
from baton.run_logs import LogSink, log_line

if TYPE_CHECKING:
    from baton.states import State

logger = logging.getLogger("baton.reporting")

MAX_TASK_RUNS_LISTED = 50
MAX_ARTIFACTS = 20
MAX_ARTIFACT_BYTES = 4096
#: Events a run may record on its FlowRun (emit_event); more are dropped, with a warning.
MAX_EVENTS = 100
MAX_EVENT_BYTES = 16_384
EMITTED = "Emitted"
EVENT_ANNOTATION = contract.ANNOTATION_EVENT
COMPONENT = "baton-runtime"
MAX_RESULT_BYTES = 2048
#: A paused run's input schema larger than this is not shown in the status (the input
#: is still validated by the runtime).
MAX_SCHEMA_BYTES = 16_384
SCHEMA_TOO_LARGE = "the input's JSON schema is over 16 KiB and not shown"
MAX_MESSAGE_BYTES = 2048
TRACEBACK_LINES = 30
#: How long the final report is retried (API server down or unreachable) before the
#: runtime gives up and exits non-zero; the operator then marks the run Crashed.
FINAL_REPORT_DEADLINE_SECONDS = 300.0
TRUNCATED = "\n… (truncated by Baton; the full content is in ConfigMap {name})"

#: Prefect state names that are final for the flow run.
FINAL = FINAL_STATE_TYPES


def clip(text: str, limit: int) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= limit:
        return text, False
    return data[:limit].decode(errors="ignore") + " … (truncated)", True


def state_name(state: State[Any]) -> str:
    """The FlowRun state for an SDK state: its name if Baton knows it, else its type."""
    known = {
        "Scheduled",
        "Late",
        "AwaitingRetry",
        "Pending",
        "Running",
        "Retrying",
        "Completed",
        "Failed",
        "TimedOut",
        "Crashed",
        "Cancelling",
        "Cancelled",
        "Paused",
    }
    return state.name if state.name in known else state.type.value.title()


@dataclass
class _TaskRun:
    uid: UUID
    name: str
    state: str
    started: datetime | None
    ended: datetime | None
    message: str
    seq: int


@dataclass
class _Buffer:
    runtime: dict[str, Any] | None = None
    task_runs: dict[UUID, _TaskRun] = field(default_factory=dict)
    upstream: dict[UUID, list[UUID]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    source_commit: str | None = None
    pause: dict[str, Any] | None = None
    dirty: set[str] = field(default_factory=set)
    seq: int = 0


class StatusReporter:
    """A thread-safe ``RunObserver`` that patches one FlowRun's status."""

    def __init__(
        self,
        client: KubeClient,
        name: str,
        namespace: str,
        *,
        uid: str = "",
        attempt: int = 1,
        interval: float = 1.0,
        log_sinks: Sequence[LogSink] = (),
    ) -> None:
        self._client = client
        self._log_sinks = tuple(log_sinks)
        self._name = name
        self._namespace = namespace
        self._uid = uid
        self._attempt = attempt
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._buffer = _Buffer()
        self._root: UUID | None = None
        self._sent_counts: set[str] = set()
        self._started: datetime | None = None
        self._events: list[dict[str, Any]] = []
        self._events_seen = 0
        self._events_dropped = 0
        self._thread = threading.Thread(target=self._loop, name="baton-reporter", daemon=True)
        self.patches = 0

    # -- RunObserver ------------------------------------------------------------------
    def flow_run_state(self, state: State[Any]) -> None:
        flow_run_id = state.state_details.flow_run_id
        with self._lock:
            if self._root is None:
                self._root = flow_run_id
            if flow_run_id != self._root:
                return  # subflows are reported as part of their parent
            now = state.timestamp
            if state.type.value == "RUNNING" and self._started is None:
                self._started = now
            runtime = {
                "state": state_name(state),
                "message": clip(state.message or "", MAX_MESSAGE_BYTES)[0],
                "timestamp": _stamp(now),
                "attempt": self._attempt,
                "startTime": _stamp(self._started),
            }
            if state.type.value in FINAL:
                runtime["endTime"] = _stamp(now)
                self._record_outcome(state)
            self._buffer.runtime = runtime
            self._buffer.dirty.add("runtime")
        self._wake.set()  # flow state changes are written at once

    def task_run_state(
        self,
        task_run_id: UUID,
        task_name: str,
        state: State[Any],
        started: datetime | None,
        ended: datetime | None,
    ) -> None:
        with self._lock:
            self._buffer.seq += 1
            self._buffer.task_runs[task_run_id] = _TaskRun(
                task_run_id,
                task_name,
                state_name(state) if state.name != "Cached" else "Cached",
                started,
                ended,
                clip(state.message or "", 300)[0],
                self._buffer.seq,
            )
            self._buffer.dirty.add("taskRuns")

    def task_run_upstream(self, task_run_id: UUID, upstream: list[UUID]) -> None:
        with self._lock:
            self._buffer.upstream[task_run_id] = list(upstream[: contract.MAX_TASK_UPSTREAM])
            self._buffer.dirty.add("taskRuns")

    def artifact_created(self, artifact: dict[str, Any]) -> None:
        with self._lock:
            self._buffer.artifacts.append(dict(artifact))
            self._buffer.dirty.add("artifacts")

    def artifact_updated(self, artifact: dict[str, Any]) -> None:
        with self._lock:
            for i, existing in enumerate(self._buffer.artifacts):
                if existing.get("id") == artifact.get("id"):
                    self._buffer.artifacts[i] = dict(artifact)
            self._buffer.dirty.add("artifacts")

    def log(self, record: logging.LogRecord) -> None:
        """Buffer ``record`` for the log sinks (``baton.run_logs``); never the status."""
        if self._log_sinks:
            line = log_line(record)
            for sink in self._log_sinks:
                sink.offer(line)

    def event_emitted(self, event: dict[str, Any]) -> None:
        """Queue an emitted event; the flusher records it as a Kubernetes Event on the FlowRun."""
        with self._lock:
            if self._events_seen >= MAX_EVENTS:
                self._events_dropped += 1
                return
            self._events_seen += 1
            self._events.append(dict(event))
        self._wake.set()

    def _post_events(self) -> None:
        """Record queued events, best effort (as the operator's): a refusal drops the event."""
        with self._lock:
            events, self._events = self._events, []
            dropped, self._events_dropped = self._events_dropped, 0
        if dropped:
            logger.warning(
                "%d emitted event(s) over the limit of %d were dropped", dropped, MAX_EVENTS
            )
        metadata = {"name": self._name, "namespace": self._namespace, "uid": self._uid or None}
        for event in events:
            resource = event.get("resource") or {}
            resource_id = resource.get("baton.resource.id") or resource.get("prefect.resource.id")
            message = f"{event['event']} on {resource_id}: {_json(event.get('payload') or {})}"
            body = build_event(
                metadata,
                "FlowRun",
                EMITTED,
                message,
                warning=False,
                now=datetime.now(UTC),
                component=COMPONENT,
                annotations={EVENT_ANNOTATION: clip(_json(event), MAX_EVENT_BYTES)[0]},
            )
            try:
                self._client.create(CORE_EVENTS, body, self._namespace)
            except Exception as error:
                logger.warning("could not record event %r: %s", event.get("event"), error)

    # -- outcome ----------------------------------------------------------------------
    def _record_outcome(self, state: State[Any]) -> None:
        data = state.data
        if state.type.value == "COMPLETED":
            preview, cut = clip(repr(data), MAX_RESULT_BYTES)
            self._buffer.result = {
                "type": type(data).__name__,
                "preview": preview,
                "truncated": cut,
            }
            self._buffer.dirty.add("result")
        elif isinstance(data, BaseException):
            self.record_error(data)

    def report_final(self, state: str, message: str, error: BaseException | None = None) -> None:
        """Record a final state the engine never reached (load errors, signals)."""
        now = _stamp(datetime.now(UTC))
        with self._lock:
            self._buffer.runtime = {
                "state": state,
                "message": clip(message, MAX_MESSAGE_BYTES)[0],
                "timestamp": now,
                "endTime": now,
                "attempt": self._attempt,
                "startTime": _stamp(self._started),
            }
            self._buffer.dirty.add("runtime")
            if error is not None:
                self.record_error(error)

    def record_source_commit(self, commit: str) -> None:
        """The git commit the run's code was checked out at (``status.sourceCommit``)."""
        with self._lock:
            self._buffer.source_commit = commit
            self._buffer.dirty.add("sourceCommit")
        self._wake.set()

    def record_pause(self, pause: dict[str, Any] | None) -> None:
        """The run's current pause (``status.pause``), or ``None`` once it resumed.

        Written at once, with the Paused state: a resumer reads the key from it.
        """
        with self._lock:
            schema = (pause or {}).get("inputSchema") or {}
            if pause is not None and len(_json(schema).encode()) > MAX_SCHEMA_BYTES:
                pause = {**pause, "inputSchema": None, "message": SCHEMA_TOO_LARGE}
            self._buffer.pause = pause
            self._buffer.dirty.add("pause")
        self._wake.set()

    def record_error(self, error: BaseException) -> None:
        lines = "".join(traceback.format_exception(error)).splitlines()
        self._buffer.error = {
            "type": type(error).__name__,
            "message": clip(str(error), MAX_MESSAGE_BYTES)[0],
            "traceback": clip("\n".join(lines[-TRACEBACK_LINES:]), 8192)[0],
        }
        self._buffer.dirty.add("error")

    # -- bounded rendering ------------------------------------------------------------
    def _task_run_item(self, run: _TaskRun) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": str(run.uid)[:8],
            "name": run.name,
            "state": run.state,
            "startTime": _stamp(run.started),
            "endTime": _stamp(run.ended),
            "message": run.message,
        }
        upstream = self._buffer.upstream.get(run.uid)
        if upstream:
            item["upstream"] = [str(u)[:8] for u in upstream]
        return item

    def _task_runs(self) -> dict[str, Any]:
        runs = list(self._buffer.task_runs.values())
        counts = Counter(r.state for r in runs)
        bad = {"Failed", "Crashed", "TimedOut"}
        listed = sorted(runs, key=lambda r: (r.state not in bad, -r.seq))[:MAX_TASK_RUNS_LISTED]
        # A merge patch keeps map keys it does not mention: null out states now at zero.
        # Every state ever rendered is remembered, not only the last patch's: a patch
        # that never arrived (API down) must not leave a stale count on the server.
        sent: dict[str, int | None] = {k: None for k in self._sent_counts if k not in counts}
        sent.update(sorted(counts.items()))
        self._sent_counts |= set(counts)
        return {
            "total": len(runs),
            "counts": sent,
            "items": [self._task_run_item(r) for r in listed],
            "omitted": max(0, len(runs) - len(listed)),
        }

    def _artifacts(self) -> list[dict[str, Any]]:
        rendered = []
        for artifact in self._buffer.artifacts[-MAX_ARTIFACTS:]:
            data = artifact.get("data")
            text = data if isinstance(data, str) else _json(data)
            entry: dict[str, Any] = {
                "key": artifact.get("key"),
                # Link artifacts are markdown (as in Prefect) marked with their URL.
                # An Artifact(...) made by hand may have no type; the status needs one.
                "type": "link" if artifact.get("link") else (artifact.get("type") or "markdown"),
                "description": artifact.get("description"),
                "created": artifact.get("created"),
            }
            if len(text.encode()) > MAX_ARTIFACT_BYTES:
                name = self._store_large(artifact, text)
                entry["configMap"] = name
                entry["data"] = clip(text, MAX_ARTIFACT_BYTES)[0] + (
                    TRUNCATED.format(name=name) if name else ""
                )
                entry["truncated"] = True
            else:
                entry["data"] = text
            rendered.append({k: v for k, v in entry.items() if v is not None})
        return rendered

    def _store_large(self, artifact: dict[str, Any], text: str) -> str | None:
        digest = hashlib.sha256(f"{self._name}/{artifact.get('id')}".encode()).hexdigest()[:10]
        name = f"{self._name[:40]}-artifact-{digest}"
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "labels": {**contract.MANAGED_BY, contract.LABEL_ARTIFACT: "true"},
                "ownerReferences": [
                    owner_reference("FlowRun", self._name, self._uid, controller=False)
                ]
                if self._uid
                else [],
            },
            "data": {"content": text[:900_000]},
        }
        # A refusal (RBAC, quota, size) keeps the artifact truncated in the status; an
        # unreachable API server raises, and ``flush`` renders and retries the whole patch.
        try:
            try:
                self._client.create(CONFIGMAPS, body, self._namespace)
            except ApiError as error:
                if error.status != 409:
                    raise
                self._client.patch(CONFIGMAPS, name, self._namespace, {"data": body["data"]})
        except ApiError as error:
            logger.warning("could not store artifact %s: %s", name, error)
            return None
        return name

    def _patch(self) -> dict[str, Any]:
        """Render the pending changes; if rendering fails they stay pending."""
        with self._lock:
            dirty, self._buffer.dirty = self._buffer.dirty, set()
        try:
            with self._lock:
                status: dict[str, Any] = {}
                if "runtime" in dirty:
                    status["runtime"] = self._buffer.runtime
                if "taskRuns" in dirty:
                    status["taskRuns"] = self._task_runs()
                if "result" in dirty:
                    status["result"] = self._buffer.result
                if "error" in dirty:
                    status["error"] = self._buffer.error
                if "pause" in dirty:
                    status["pause"] = self._buffer.pause
                if "sourceCommit" in dirty:
                    status["sourceCommit"] = self._buffer.source_commit
            if "artifacts" in dirty:  # may write ConfigMaps: outside the lock
                status["artifacts"] = self._artifacts()
        except BaseException:
            self._keep(dirty)
            raise
        return status

    def _keep(self, fields: Iterable[str]) -> None:
        """Mark ``fields`` pending again after a patch that did not arrive."""
        with self._lock:
            self._buffer.dirty.update(fields)

    # -- flushing ---------------------------------------------------------------------
    def start(self) -> StatusReporter:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Log lines waiting: flush now (the wait below spaced it), so a steady log
            # ships once per interval and a killed pod loses at most that much.
            woke = False
            if not any(sink.pending() for sink in self._log_sinks):
                woke = self._wake.wait(timeout=self._interval)
            self._wake.clear()
            # A state change is written at once, but its log lines wait for the next
            # tick (unless the run has ended): a run shorter than the interval keeps its
            # log in one write.
            logs = not woke or self._ended()
            self.flush(deadline=time.monotonic() + 30, give_way=True, logs=logs)
            self._stop.wait(self._interval)  # never faster than once per interval

    def _ended(self) -> bool:
        with self._lock:
            return bool(self._buffer.runtime and self._buffer.runtime.get("endTime"))

    def flush(self, *, deadline: float, give_way: bool = False, logs: bool = True) -> bool:
        """Write pending changes, retrying transient errors until ``deadline``.

        Each attempt renders the buffer afresh, so a retry after an outage carries
        everything recorded meanwhile (the final state included), and a failed attempt
        leaves its fields pending instead of dropping them. The log sinks ship in the
        same attempt, before the status (so a final state means the log is complete),
        and keep a batch that did not arrive the same way. ``give_way`` (the flusher
        thread) stops retrying once ``close`` has taken over the final write.
        """
        self._post_events()
        delay = 0.5
        while True:
            status: dict[str, Any] = {}
            try:
                # Logs first: a reader that sees the final state finds every line kept.
                for sink in self._log_sinks if logs else ():
                    sink.ship()
                status = self._patch()
                if status:
                    self._client.patch_status(
                        FLOWRUNS, self._name, self._namespace, {"status": status}
                    )
                    self.patches += 1
                return True
            except NotFound:
                logger.error(
                    "FlowRun %s/%s is gone; dropping its report", self._namespace, self._name
                )
                return False
            except Exception as error:  # API unreachable or overloaded: keep trying
                self._keep(status)
                if time.monotonic() + delay > deadline or (give_way and self._stop.is_set()):
                    logger.warning("status report failed, will retry: %s", error)
                    return False
                logger.info("status report failed, retrying in %.1fs: %s", delay, error)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def close(self, *, final_deadline: float = FINAL_REPORT_DEADLINE_SECONDS) -> bool:
        """Stop the flusher and write everything left, retrying for up to ``final_deadline``.

        The flusher gives way at its next failed attempt, so the budget is this
        deadline plus at most one attempt in flight (bounded by the client's timeout).
        """
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=35)
        return self.flush(deadline=time.monotonic() + final_deadline)


def _json(value: Any) -> str:
    import json  # noqa: PLC0415

    return json.dumps(value, default=str)
