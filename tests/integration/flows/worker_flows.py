"""Flows for the process-worker tests: they record which process ran them, and when."""

from __future__ import annotations

import json
import os
import signal
import time

from baton import flow


@flow
def record(path: str, seconds: float = 0.5) -> str:
    """Sleep, then append one line naming this run and its worker (the parent process)."""
    start = time.time()
    time.sleep(seconds)
    line = {
        "run": os.environ.get("BATON_FLOW_RUN_NAME"),
        "worker_pid": os.getppid(),
        "start": start,
        "end": time.time(),
    }
    with open(path, "a") as out:
        out.write(json.dumps(line) + "\n")
    return "recorded"


@flow
def sleepy(seconds: float = 120) -> float:
    """A long run, to be cancelled or to lose its worker."""
    print(f"sleeping {seconds}s", flush=True)
    time.sleep(seconds)
    return seconds


@flow
def vanish() -> None:
    """Dies the way a segfault or an OOM kill does: no final report is possible."""
    os.kill(os.getpid(), signal.SIGKILL)
