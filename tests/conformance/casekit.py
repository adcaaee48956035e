"""What a conformance case may use besides the Prefect API: counters and describers.

A case (``tests/conformance/cases/*.py``) is a function ``case_<name>() -> dict`` written
against Prefect 3's API. The runner executes it once under the real Prefect and once
under Baton (the same source with ``prefect`` replaced by ``baton``), and the test
compares the two dicts it returns: the *observation*, i.e. what a user sees.

This module imports neither framework: everything here works on what the case hands
it (states, futures, exceptions) through the attributes the two share. Observations
must be deterministic: no timestamps, ids or random run names, only facts such as
"a UUID was returned", "the delay was at least 0.1 s".

The runner uses ``reset()``, ``CAPTURE_HANDLER`` and ``artifact_reader``; cases use the
names in ``__all__``.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

__all__ = [
    "count",
    "counts",
    "describe_error",
    "describe_state",
    "elapsed_between",
    "jsonable",
    "mark",
    "outcome",
    "read_run_artifacts",
    "run_logs",
    "within",
]

_lock = threading.Lock()
_counts: dict[str, int] = {}
_marks: dict[str, list[float]] = {}
_records: list[logging.LogRecord] = []
# Run names are random ('amber-otter', 'add-9a7'): observations show them as <run>.
_QUOTED_RUN_NAME = re.compile(r"'[a-z]+-[a-z]+(?:-[0-9a-f]{3})?'|'[a-z_]+-[0-9a-f]{3}'")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def reset() -> None:
    """Forget counters, marks and log records (the runner calls this before each case)."""
    with _lock:
        _counts.clear()
        _marks.clear()
        _records.clear()


def _no_reader() -> list[dict[str, Any]]:
    raise NotImplementedError("the conformance runner installs an artifact reader")


#: Set by the runner: reads the current flow run's artifacts from the framework under test.
artifact_reader: Callable[[], list[dict[str, Any]]] = _no_reader


def read_run_artifacts() -> list[dict[str, Any]]:
    """The current flow run's artifacts: type, key, description, data, from_task.

    Prefect's are read back from its API server, Baton's from the run context (what
    the in-cluster runtime reports to the FlowRun status).
    """
    return artifact_reader()


def count(name: str) -> int:
    """Count one call of ``name`` (e.g. a task body running); return the new count."""
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        return _counts[name]


def counts() -> dict[str, int]:
    """How many times each counted name ran."""
    with _lock:
        return dict(sorted(_counts.items()))


def mark(name: str) -> None:
    """Record the (monotonic) time at which ``name`` happened, e.g. each attempt's start."""
    with _lock:
        _marks.setdefault(name, []).append(time.monotonic())


def elapsed_between(name: str) -> list[float]:
    """The gaps, in seconds, between successive marks of ``name``."""
    times = _marks.get(name, [])
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def within(values: list[float], low: list[float], high: list[float]) -> list[bool]:
    """Whether each value lies in ``[low[i], high[i]]``: loose timing, compared exactly."""
    return [lo <= v <= hi for v, lo, hi in zip(values, low, high, strict=True)]


def normalize_text(text: str) -> str:
    """Replace random run names and UUIDs so two runs can compare their messages."""
    return _UUID.sub("<uuid>", _QUOTED_RUN_NAME.sub("<run>", text))


def describe_error(exc: BaseException) -> dict[str, Any]:
    """The exception's type name and (normalised) message."""
    return {"error": type(exc).__name__, "message": normalize_text(str(exc))}


def describe_state(state: Any) -> dict[str, Any]:
    """A state as the user sees it: its type, name and message."""
    message = state.message
    return {
        "type": state.type.value,
        "name": state.name,
        "message": normalize_text(message) if message else None,
    }


def _is_state(value: Any) -> bool:
    return hasattr(value, "type") and hasattr(value, "is_completed") and hasattr(value, "name")


def jsonable(value: Any) -> Any:
    """Turn a result into plain JSON the two runs can compare."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, UUID):
        return "<uuid>"
    if isinstance(value, BaseException):
        return describe_error(value)
    if _is_state(value):
        return {"state": describe_state(value)}
    if hasattr(value, "task_run_id") and hasattr(value, "result"):
        return "<future>"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return f"<{type(value).__name__}>"  # dates, models...: the type is what compares


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn`` and describe what the caller got: a value or an exception."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        return {"raised": describe_error(exc)}
    return {"returned": jsonable(value)}


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with _lock:
            _records.append(record)


CAPTURE_HANDLER = _Capture(level=logging.DEBUG)
_RUN_LOGGERS = ("flow_runs", "task_runs", "engine")


def run_logs(*, level: int = logging.INFO) -> list[str]:
    """The run log lines of the case so far, as ``"LEVEL flow|task: message"``.

    Both the user's lines (``get_run_logger()``, ``log_prints``) and the engine's
    ("Finished in state Completed()", retry notices) are kept: both are what a user
    reads in the terminal. Lines of other loggers (e.g. Prefect's temporary server
    starting) are not run lines and are left out.
    """
    with _lock:
        records = list(_records)
    return [
        f"{record.levelname} {'task' if getattr(record, 'task_run_id', None) else 'flow'}: "
        + normalize_text(record.getMessage())
        for record in records
        if record.levelno >= level and record.name.rpartition(".")[2] in _RUN_LOGGERS
    ]
