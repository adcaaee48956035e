"""A run's log records kept with its FlowRun, so they outlive the pod.

The engine hands every run log record (the run logger, task loggers, prints under
``log_prints``) to the ``StatusReporter``; the reporter turns it into one JSON line
(``log_line``) and offers it to each sink here. Sinks only buffer: the reporter's flusher
ships them with its status patches, so log shipping has the status reports' rate
discipline (at most once per interval), their retries with back-off, and their final
flush — a pod killed by SIGKILL or the OOM killer keeps every line up to the last batch.

``ConfigMapLogSink`` is the default: chunks of at most ``CHUNK_BYTES`` in ConfigMaps owned
by the FlowRun (so they go when the run goes), at most ``MAX_CHUNKS`` per attempt. Past
that the oldest chunk is deleted, and every chunk written carries the running count of
lines and bytes dropped, which readers show as a "truncated" marker. One batch is one
write (the current chunk, re-sent whole as a merge patch), plus one create when a chunk
fills and one delete when the cap is reached.

``read_kept_log`` is the one reader (``baton logs``, the UI); ``baton.run_logs_s3`` adds an
S3-compatible bucket holding the full log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from baton import contract
from baton._kube.client import CONFIGMAPS, AlreadyExists, ApiError, KubeClient, NotFound
from baton.contract import LABEL_ATTEMPT, LABEL_RUN, MANAGED_BY, label_value

logger = logging.getLogger("baton.run_logs")

#: Bytes of log lines in one ConfigMap (etcd's object limit is 1.5 MiB).
CHUNK_BYTES = 256 * 1024
#: Chunks kept per attempt: the cap is ``MAX_CHUNKS x CHUNK_BYTES`` (2 MiB) of lines.
MAX_CHUNKS = 8
#: A longer single message is cut (a chunk holds at least a few lines).
MAX_LINE_BYTES = 16 * 1024
LABEL_LOG_OF = contract.LABEL_LOG_OF
ANNOTATION_CHUNK = contract.ANNOTATION_LOG_CHUNK
ANNOTATION_DROPPED_LINES = contract.ANNOTATION_LOG_DROPPED_LINES
ANNOTATION_DROPPED_BYTES = contract.ANNOTATION_LOG_DROPPED_BYTES
DATA_KEY = "log.jsonl"


class LogSink(Protocol):
    """Where the reporter's log lines go: ``offer`` buffers (any thread), ``ship`` writes.

    ``ship`` runs on the reporter's flusher; it raises on a transient failure and keeps
    the batch for the next attempt.
    """

    def offer(self, line: str) -> None: ...

    def pending(self) -> bool: ...

    def ship(self) -> None: ...


def _clip(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore") + " … (line truncated by Baton)"


_FORMATTER = logging.Formatter()


def log_line(record: logging.LogRecord) -> str:
    """One JSON line for ``record``: timestamp, level, task run (if any) and message."""
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + _FORMATTER.formatException(record.exc_info)
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    entry = {
        "ts": stamp.replace("+00:00", "Z"),
        "level": record.levelname,
        "task": getattr(record, "task_run_name", None),
        "flow": getattr(record, "flow_run_name", None),
        "logger": record.name,
        "msg": _clip(message, MAX_LINE_BYTES),
    }
    return json.dumps({k: v for k, v in entry.items() if v is not None}, ensure_ascii=False)


@dataclass(frozen=True)
class LogEntry:
    ts: str
    level: str
    message: str
    task: str | None = None
    flow: str | None = None
    logger: str = ""

    @classmethod
    def parse(cls, line: str) -> LogEntry:
        try:
            data = json.loads(line)
            return cls(
                ts=str(data.get("ts", "")),
                level=str(data.get("level", "")),
                message=str(data.get("msg", "")),
                task=data.get("task"),
                flow=data.get("flow"),
                logger=str(data.get("logger", "")),
            )
        except (ValueError, AttributeError):
            return cls(ts="", level="", message=line)

    def render(self) -> str:
        """Prefect's console layout with the date: ``2026-01-02 12:00:00.123 | INFO | ...``."""
        when = self.ts.replace("T", " ").rstrip("Z")
        if self.task:
            who = f"Task run {self.task!r} - "
        elif self.flow:
            who = f"Flow run {self.flow!r} - "
        else:
            who = f"{self.logger} - " if self.logger else ""
        return f"{when} | {self.level:<7} | {who}{self.message}"

    def of_task(self, name: str) -> bool:
        """Whether this line belongs to task run ``name`` or to a run of the task ``name``."""
        return self.task is not None and (self.task == name or self.task.rsplit("-", 1)[0] == name)


# -- the ConfigMap sink -------------------------------------------------------------------


@dataclass
class Chunk:
    seq: int
    lines: list[str] = field(default_factory=list)
    size: int = 0
    written: bool = False


@dataclass(frozen=True)
class ChunkPlan:
    """What one batch does to the chunks: pure, so the cap is unit-tested without a cluster."""

    chunks: list[Chunk]
    write: list[Chunk]
    delete: list[Chunk]
    dropped_lines: int
    dropped_bytes: int


def plan_chunks(
    chunks: list[Chunk], batch: Iterable[str], *, chunk_bytes: int, max_chunks: int
) -> ChunkPlan:
    """Append ``batch`` to ``chunks`` (oldest first), dropping the oldest past ``max_chunks``."""
    kept = [replace(c, lines=list(c.lines)) for c in chunks]
    touched: dict[int, Chunk] = {}
    next_seq = kept[-1].seq + 1 if kept else 0
    for line in batch:
        size = len(line.encode()) + 1
        if not kept or (kept[-1].lines and kept[-1].size + size > chunk_bytes):
            kept.append(Chunk(next_seq))
            next_seq += 1
        kept[-1].lines.append(line)
        kept[-1].size += size
        touched[kept[-1].seq] = kept[-1]
    dropped = kept[: max(0, len(kept) - max_chunks)]
    kept = kept[len(dropped) :]
    return ChunkPlan(
        chunks=kept,
        write=[c for c in kept if c.seq in touched],
        delete=[c for c in dropped if c.written],
        dropped_lines=sum(len(c.lines) for c in dropped),
        dropped_bytes=sum(c.size for c in dropped),
    )


def owner_reference(name: str, uid: str) -> list[dict[str, Any]]:
    if not uid:
        return []
    return [contract.owner_reference("FlowRun", name, uid, controller=False)]


def log_owner_label(name: str, uid: str) -> str:
    """The value of ``baton.dev/log-of``: the FlowRun's UID (a re-created run of the same
    name is another log), or a digest of the name for a run without one."""
    return uid or hashlib.sha256(name.encode()).hexdigest()[:32]


class ConfigMapLogSink:
    """Bounded chunks of a run's log in ConfigMaps owned by its FlowRun."""

    def __init__(
        self,
        client: KubeClient,
        name: str,
        namespace: str,
        *,
        uid: str = "",
        attempt: int = 1,
        chunk_bytes: int = CHUNK_BYTES,
        max_chunks: int = MAX_CHUNKS,
    ) -> None:
        self._client = client
        self._name = name
        self._namespace = namespace
        self._uid = uid
        self._attempt = attempt
        self._chunk_bytes = chunk_bytes
        self._max_chunks = max_chunks
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._pending_bytes = 0
        self._chunks: list[Chunk] = []
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.writes = 0
        tag = log_owner_label(name, uid)[:8]
        self._prefix = f"{name[:40].rstrip('-.')}-log-{tag}-{attempt}"

    def chunk_name(self, seq: int) -> str:
        return f"{self._prefix}-{seq:04d}"

    def pending(self) -> bool:
        return bool(self._pending)

    def offer(self, line: str) -> None:
        size = len(line.encode()) + 1
        with self._lock:
            self._pending.append(line)
            self._pending_bytes += size
            self._trim()

    def _trim(self) -> None:
        """Keep at most a cap's worth pending: what would be dropped is dropped now."""
        cap = self._chunk_bytes * self._max_chunks
        while self._pending_bytes > cap and len(self._pending) > 1:
            size = len(self._pending.popleft().encode()) + 1
            self._pending_bytes -= size
            self.dropped_lines += 1
            self.dropped_bytes += size

    def ship(self) -> None:
        with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, deque()
            batch_bytes, self._pending_bytes = self._pending_bytes, 0
            plan = plan_chunks(
                self._chunks, batch, chunk_bytes=self._chunk_bytes, max_chunks=self._max_chunks
            )
            dropped = (
                self.dropped_lines + plan.dropped_lines,
                self.dropped_bytes + plan.dropped_bytes,
            )
        try:
            for chunk in plan.write:
                self._write(chunk, dropped)
            for chunk in plan.delete:
                try:
                    self._client.delete(CONFIGMAPS, self.chunk_name(chunk.seq), self._namespace)
                    self.writes += 1
                except NotFound:
                    pass
        except ApiError as error:
            if error.status == 429 or error.status >= 500:
                self._restore(batch, batch_bytes)
                raise
            # Refused (RBAC, quota, an invalid object): the batch cannot be kept; say so
            # once per batch in the pod's own log and carry on without it.
            logger.warning("could not keep %d log lines of the run: %s", len(batch), error)
            with self._lock:
                self.dropped_lines += len(batch)
                self.dropped_bytes += batch_bytes
            return
        except Exception:
            self._restore(batch, batch_bytes)
            raise
        with self._lock:
            for chunk in plan.write:
                chunk.written = True
            self._chunks = plan.chunks
            self.dropped_lines += plan.dropped_lines
            self.dropped_bytes += plan.dropped_bytes

    def _restore(self, batch: deque[str], batch_bytes: int) -> None:
        with self._lock:
            batch.extend(self._pending)
            self._pending = batch
            self._pending_bytes += batch_bytes
            self._trim()

    def _write(self, chunk: Chunk, dropped: tuple[int, int]) -> None:
        name = self.chunk_name(chunk.seq)
        annotations = {
            ANNOTATION_CHUNK: str(chunk.seq),
            ANNOTATION_DROPPED_LINES: str(dropped[0]),
            ANNOTATION_DROPPED_BYTES: str(dropped[1]),
        }
        data = {DATA_KEY: "\n".join(chunk.lines) + "\n"}
        if chunk.written:
            try:
                self._client.patch(
                    CONFIGMAPS,
                    name,
                    self._namespace,
                    {"metadata": {"annotations": annotations}, "data": data},
                )
                self.writes += 1
                return
            except NotFound:
                pass  # deleted behind our back: create it again
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "labels": {
                    **MANAGED_BY,
                    LABEL_LOG_OF: log_owner_label(self._name, self._uid),
                    LABEL_RUN: label_value(self._name),
                    LABEL_ATTEMPT: str(self._attempt),
                },
                "annotations": annotations,
                "ownerReferences": owner_reference(self._name, self._uid),
            },
            "data": data,
        }
        try:
            self._client.create(CONFIGMAPS, body, self._namespace)
        except AlreadyExists:  # an earlier create arrived but its answer did not
            self._client.patch(
                CONFIGMAPS,
                name,
                self._namespace,
                {"metadata": {"annotations": annotations}, "data": data},
            )
        self.writes += 1


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptLog:
    """A run's kept log, oldest line first, and what the cap dropped."""

    entries: list[LogEntry]
    chunks: int
    dropped_lines: int
    dropped_bytes: int

    def marker(self) -> str | None:
        if not self.dropped_lines:
            return None
        return (
            f"truncated: {self.dropped_lines} lines ({self.dropped_bytes} bytes) dropped, "
            f"oldest first (the cap is {MAX_CHUNKS} chunks of {CHUNK_BYTES // 1024} KiB "
            "per attempt)"
        )


def read_kept_log(client: KubeClient, name: str, namespace: str, uid: str) -> KeptLog:
    """Every chunk kept for the FlowRun ``name`` (``uid``), in order: attempt, then chunk."""
    items = client.list(
        CONFIGMAPS, namespace, label_selector=f"{LABEL_LOG_OF}={log_owner_label(name, uid)}"
    )
    return kept_log_from(items, uid)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def kept_log_from(items: list[dict[str, Any]], uid: str) -> KeptLog:
    """The kept log in ``items`` (ConfigMaps), keeping only those owned by ``uid``."""
    chunks = []
    dropped: dict[int, tuple[int, int]] = {}
    for item in items:
        meta = item.get("metadata") or {}
        owners = {o.get("uid") for o in meta.get("ownerReferences") or []}
        if uid and uid not in owners:
            continue
        notes = meta.get("annotations") or {}
        attempt = _int((meta.get("labels") or {}).get(LABEL_ATTEMPT))
        seq = _int(notes.get(ANNOTATION_CHUNK))
        mark = (
            _int(notes.get(ANNOTATION_DROPPED_LINES)),
            _int(notes.get(ANNOTATION_DROPPED_BYTES)),
        )
        dropped[attempt] = max(dropped.get(attempt, (0, 0)), mark)
        chunks.append(((attempt, seq), str((item.get("data") or {}).get(DATA_KEY, ""))))
    chunks.sort(key=lambda pair: pair[0])
    entries = [LogEntry.parse(line) for _, text in chunks for line in text.splitlines() if line]
    return KeptLog(
        entries=entries,
        chunks=len(chunks),
        dropped_lines=sum(lines for lines, _ in dropped.values()),
        dropped_bytes=sum(size for _, size in dropped.values()),
    )
