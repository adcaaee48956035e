"""stopping.py: the first signal asks, the deadline or a second signal ends the process.

Each case runs in a child interpreter (signal handlers and ``os._exit`` belong to a
process of their own) whose "operator" is a thread that either returns once asked to
stop or never returns at all.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from baton.controller.stopping import STOP_TIMEOUT_EXIT

CHILD = """
import asyncio, sys
from baton.controller.stopping import Stopping, run_in_thread
stopping = Stopping(bound=float(sys.argv[1]))
stopping.install()
cooperative = sys.argv[2] == "cooperative"
async def hold():
    await asyncio.Event().wait()  # a task that never looks at the flag
async def main():
    await asyncio.create_task(hold(), name="held-up")
def operate():
    if cooperative:
        stopping.requested.wait()
    else:
        loop = asyncio.new_event_loop()
        stopping.watch(loop)
        loop.run_until_complete(main())
print("ready", flush=True)
run_in_thread(operate, stopping)
"""


def _child(bound: float, kind: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(bound), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _signal_and_wait(proc: subprocess.Popen[str], *signals: signal.Signals) -> tuple[float, str]:
    """Send ``signals`` 0.1 s apart; the seconds until the child ended, and its stderr."""
    t0 = time.monotonic()
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.1)
    _, stderr = proc.communicate(timeout=30)
    return time.monotonic() - t0, stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_cooperative_operator_stops_cleanly(sig: signal.Signals) -> None:
    proc = _child(5.0, "cooperative")
    seconds, stderr = _signal_and_wait(proc, sig)
    assert proc.returncode == 0, stderr
    assert seconds < 2.0


def test_a_stuck_operator_is_ended_at_the_bound() -> None:
    proc = _child(1.0, "stuck")
    seconds, stderr = _signal_and_wait(proc, signal.SIGTERM)
    assert proc.returncode == STOP_TIMEOUT_EXIT, stderr
    assert 1.0 <= seconds < 4.0
    assert "not stopped 1 s after the signal" in stderr
    # It names what held the stop up: the line it waits on (Event.wait), then its caller.
    assert "- held-up at " in stderr and "locks.py" in stderr and "< <string>:8" in stderr, stderr


def test_a_second_signal_ends_it_at_once() -> None:
    proc = _child(30.0, "stuck")
    seconds, stderr = _signal_and_wait(proc, signal.SIGTERM, signal.SIGTERM)
    assert proc.returncode == STOP_TIMEOUT_EXIT, stderr
    assert "second SIGTERM" in stderr
    assert seconds < 5.0
