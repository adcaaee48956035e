"""Run loggers and the console format Prefect users recognise.

``get_run_logger()`` returns a logger adapter that stamps every record with the
run's identity; the console handler prints those records to stderr as
``12:00:00.123 | INFO    | Task run 'extract-a1b' - Finished in state Completed()``
and a second handler forwards them to the run observer. ``log_prints=True``
routes ``print()`` calls made during the run (to stdout or stderr) to the run
logger.

The module is named ``run_logger`` (not ``logging``) so that it never shadows
the standard library.
"""

from __future__ import annotations

import builtins
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

from baton._engine.context import FlowRunContext, TaskRunContext
from baton._engine.observer import NULL_OBSERVER, current_observer
from baton.exceptions import MissingContextError

__all__ = [
    "RunFormatter",
    "RunLoggerAdapter",
    "configure_logging",
    "disable_run_logger",
    "flow_run_logger",
    "get_run_logger",
    "patch_print",
    "task_run_logger",
]

FLOW_RUNS_LOGGER = "baton.flow_runs"
TASK_RUNS_LOGGER = "baton.task_runs"
_DATEFMT = "%H:%M:%S"


class RunFormatter(logging.Formatter):
    """Formats a record with Prefect's console layout, by the kind of run it belongs to."""

    def __init__(self) -> None:
        super().__init__(datefmt=_DATEFMT)
        head = "%(asctime)s.%(msecs)03d | %(levelname)-7s | "
        self._task = logging.Formatter(
            head + "Task run %(task_run_name)r - %(message)s", datefmt=_DATEFMT
        )
        self._flow = logging.Formatter(
            head + "Flow run %(flow_run_name)r - %(message)s", datefmt=_DATEFMT
        )
        self._plain = logging.Formatter(head + "%(name)s - %(message)s", datefmt=_DATEFMT)

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a task run, flow run or plain line."""
        if getattr(record, "task_run_name", None) is not None:
            return self._task.format(record)
        if getattr(record, "flow_run_name", None) is not None:
            return self._flow.format(record)
        return self._plain.format(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that looks ``sys.stderr`` up at each write.

    Binding the stream once would keep writing to a replaced or closed stream
    (pytest's capture, notebooks).
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _ObserverHandler(logging.Handler):
    """Forwards run log records to the current run observer."""

    def emit(self, record: logging.LogRecord) -> None:
        observer = current_observer()
        if observer is not NULL_OBSERVER:
            try:
                observer.log(record)
            except Exception:
                self.handleError(record)


_configured = False
_configure_lock = threading.Lock()


def configure_logging() -> None:
    """Attach Baton's console and observer handlers to the ``baton`` logger, once.

    The level comes from ``BATON_LOGGING_LEVEL`` (default ``INFO``). The logger
    does not propagate to the root logger, so an application's own
    ``logging.basicConfig`` does not print every line twice.
    """
    global _configured  # noqa: PLW0603 - configure-once flag
    if _configured:
        return
    with _configure_lock:
        if _configured:
            return
        logger = logging.getLogger("baton")
        logger.setLevel(os.environ.get("BATON_LOGGING_LEVEL", "INFO").upper())
        console = _StderrHandler()
        console.setFormatter(RunFormatter())
        logger.addHandler(console)
        logger.addHandler(_ObserverHandler())
        logger.propagate = False
        _configured = True


class RunLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter that merges the run's identity into each record's ``extra``."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        """Merge run identity with any ``extra`` given at the call."""
        extra = kwargs.get("extra")
        kwargs["extra"] = {**(self.extra or {}), **extra} if extra else self.extra
        return msg, kwargs


def flow_run_logger(ctx: FlowRunContext) -> RunLoggerAdapter:
    """Return (and memoise) the logger of a flow run."""
    if ctx._logger is None:
        run = ctx.flow_run
        ctx._logger = RunLoggerAdapter(
            logging.getLogger(FLOW_RUNS_LOGGER),
            {"flow_run_name": run.name, "flow_run_id": str(run.id), "flow_name": run.flow_name},
        )
    return ctx._logger  # type: ignore[return-value]


def task_run_logger(ctx: TaskRunContext) -> RunLoggerAdapter:
    """Return (and memoise) the logger of a task run."""
    if ctx._logger is None:
        run = ctx.task_run
        flow_ctx = ctx.flow_run_context
        ctx._logger = RunLoggerAdapter(
            logging.getLogger(TASK_RUNS_LOGGER),
            {
                "task_run_name": run.name,
                "task_run_id": str(run.id),
                "task_name": run.task_name,
                "flow_run_name": flow_ctx.flow_run.name if flow_ctx else None,
                "flow_run_id": str(run.flow_run_id) if run.flow_run_id else None,
            },
        )
    return ctx._logger  # type: ignore[return-value]


def get_run_logger() -> RunLoggerAdapter:
    """Return the logger of the current task run, or else of the current flow run.

    Raises:
        MissingContextError: Called outside of a flow or task run.
    """
    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        return task_run_logger(task_ctx)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None:
        return flow_run_logger(flow_ctx)
    if (
        logging.getLogger(FLOW_RUNS_LOGGER).disabled
        and logging.getLogger(TASK_RUNS_LOGGER).disabled
    ):
        # Inside ``disable_run_logger()``: a task's ``.fn`` called in a unit test logs nowhere.
        null = logging.getLogger("baton.null")
        null.disabled = True
        return RunLoggerAdapter(null, {})
    raise MissingContextError("There is no active flow or task run context.")


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """Silence the flow and task run loggers inside the block, as Prefect's does.

    Outside a run, ``get_run_logger()`` then returns a disabled logger instead of
    raising, so a task's function can be unit-tested with ``my_task.fn(...)``.
    """
    loggers = [logging.getLogger(FLOW_RUNS_LOGGER), logging.getLogger(TASK_RUNS_LOGGER)]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before, strict=True):
            logger.disabled = disabled


_original_print = builtins.print
_print_users = 0
_print_lock = threading.Lock()


def _print_to_run_log(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    ctx: TaskRunContext | FlowRunContext | None = TaskRunContext.get() or FlowRunContext.get()
    if ctx is not None and ctx.log_prints and (file is None or file in (sys.stdout, sys.stderr)):
        # As Prefect: the whole print (``sep`` and ``end`` included) as one line,
        # trailing whitespace stripped; prints to stderr are logged too.
        buffer = io.StringIO()
        _original_print(*args, sep=sep, end=end, file=buffer)
        get_run_logger().info(buffer.getvalue().rstrip())
        return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


@contextmanager
def patch_print() -> Iterator[None]:
    """Route ``print()`` to the run logger for runs that have ``log_prints``.

    The patch dispatches on the current run context, so concurrent runs without
    ``log_prints`` (and other threads) keep printing normally; it is removed when
    the last run that needed it ends.
    """
    global _print_users  # noqa: PLW0603 - reference count of the builtins patch
    with _print_lock:
        _print_users += 1
        builtins.print = _print_to_run_log
    try:
        yield
    finally:
        with _print_lock:
            _print_users -= 1
            if _print_users == 0:
                builtins.print = _original_print
