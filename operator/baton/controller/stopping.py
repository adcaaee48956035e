"""SIGTERM and SIGINT: ask the operator to stop, and end the process within a bound.

kopf stops on a signal by cancelling its tasks, and waits for them; a watch or a retry
loop that is mid-request when the API server is gone can keep it waiting for minutes
(seen after a 2,000-run burst: no exit 30 s after SIGTERM, the kubelet's SIGKILL came
first). Baton therefore takes the signals itself: kopf runs in a thread of its own with
a stop flag (so it installs no handlers), the first signal sets the flag and arms a
deadline, and the deadline ends the process with ``STOP_TIMEOUT_EXIT`` if it is still
alive ``STOP_BOUND_SECONDS`` later. A second signal ends it at once.

Nothing is lost by the forced exit: the operator keeps no state of its own. Runs it was
creating are named deterministically, Jobs are owned by their runs and found by UID,
and the next leader lists everything again (docs/reliability.md, "Shutdown").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

#: SIGTERM to process exit, at most (the chart's terminationGracePeriodSeconds is 30).
STOP_BOUND_SECONDS = 10.0
#: Exit status when the bound ran out and the process ended itself.
STOP_TIMEOUT_EXIT = 71

_log = logging.getLogger("baton.stopping")


class Stopping:
    """The process's stop request: one flag, set by a signal, with a deadline behind it."""

    def __init__(self, bound: float = STOP_BOUND_SECONDS) -> None:
        self.requested = threading.Event()
        self._bound = bound
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop whose unfinished tasks the deadline names before it exits."""
        self._loop = loop

    def install(self) -> None:
        """Take SIGTERM and SIGINT (main thread only, as Python's signal handlers are)."""
        signal.signal(signal.SIGTERM, self._signalled)
        signal.signal(signal.SIGINT, self._signalled)

    def _signalled(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            _write(f"baton operator: second {name}: exiting now\n")
            os._exit(STOP_TIMEOUT_EXIT)
        self.requested.set()
        _log.info("%s received: stopping (at most %.0f s)", name, self._bound)
        threading.Thread(target=self._deadline, name="baton-stop-deadline", daemon=True).start()

    def _deadline(self) -> None:
        time.sleep(self._bound)
        # Not the logging module: a thread stuck inside it may hold its lock.
        _write(f"baton operator: not stopped {self._bound:.0f} s after the signal: exiting\n")
        _write(_unfinished(self._loop))
        os._exit(STOP_TIMEOUT_EXIT)


#: Tasks named by the deadline's report, at most (a burst may leave hundreds).
REPORTED_TASKS = 20


def _unfinished(loop: asyncio.AbstractEventLoop | None) -> str:
    """The loop's unfinished tasks, each with the line it waits on: what held the stop up.

    Read from another thread while the loop may still run, so a changing task set is
    retried, then given up on; the process exits either way.
    """
    if loop is None:
        return ""
    for _ in range(3):
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:  # the set changed while it was copied
            continue
    else:
        return "  (the unfinished tasks could not be listed)\n"
    lines = [f"  {len(tasks)} unfinished task(s):\n"]
    for task in tasks[:REPORTED_TASKS]:
        where = " < ".join(reversed(_awaits(task.get_coro())[-3:]))
        lines.append(f"  - {task.get_name()} at {where or '?'}\n")
    return "".join(lines)


def run_in_thread(target: Callable[[], None], stopping: Stopping) -> None:
    """Run ``target`` (kopf) in a thread while the main thread answers signals.

    Returns when ``target`` returns; re-raises what it raised. The main thread only
    waits, in short joins, so Python can run the signal handler between them.
    """
    failure: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as error:  # handed to the main thread, which re-raises it
            failure.append(error)

    thread = threading.Thread(target=body, name="baton-kopf", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.25)
    if failure:
        raise failure[0]


def _write(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), text.encode())


def _awaits(coro: object) -> list[str]:
    """``file:line`` of each coroutine down the chain ``coro`` awaits, outermost first.

    A task's own stack shows only its outermost coroutine; the line it is stuck on is at
    the bottom of the ``cr_await`` chain.
    """
    where: list[str] = []
    while coro is not None and len(where) < 50:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return where
