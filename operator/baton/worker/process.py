"""One claimed FlowRun executing as a ``baton execute`` child process of the worker.

The child gets its own session, so a Ctrl-C in the worker's terminal reaches only the
worker, which then stops its children in order (SIGTERM, then SIGKILL after the grace
period). On Linux the child is also bound to the worker's life (``PR_SET_PDEATHSIG``):
a worker killed with SIGKILL takes its runs with it, and the operator marks them Crashed
when the heartbeats stop — the same outcome as a lost machine, never a run that keeps
going unobserved. The child's output goes to a per-run log file (``baton logs``) and,
prefixed with the run's name, to the worker's own stdout.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` binding the child to this process's life (Linux), else None.

    libc's ``prctl`` is resolved here, before any fork, so the child only makes the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


_PREEXEC = _die_with_parent()


def log_path(log_dir: Path, namespace: str, run: str) -> Path:
    """Where a run's output is kept: ``<log_dir>/<namespace>/<run>.log``."""
    return log_dir / namespace / f"{run}.log"


class RunProcess:
    """A running ``baton execute`` for one FlowRun.

    Start it from a thread that outlives it (the worker's main loop): Linux delivers
    the parent-death signal when the *thread* that forked the child exits.
    """

    def __init__(
        self,
        name: str,
        namespace: str,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_file: Path,
        echo: Callable[[str], None],
        header: str,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.log_file = log_file
        self.started = time.monotonic()
        self.attempt = 1  # set by the worker from the claimed run
        self.cancel_sent_at: float | None = None
        self.ended_seen_at: float | None = None  # when the FlowRun was first seen terminal
        self.killed = False
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_file, "ab")  # noqa: SIM115 - closed by the pump
        self._log.write(f"--- {header} at {datetime.now(UTC).isoformat()} ---\n".encode())
        self._log.flush()
        self._echo = echo
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "execute"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_PREEXEC,  # noqa: PLW1509 - resolved before fork; one C call
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"log-{name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in iter(self.proc.stdout.readline, b""):
                self._log.write(line)
                self._log.flush()
                self._echo(f"[{self.name}] {line.decode(errors='replace').rstrip()}")
        finally:
            self._log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def finish(self, timeout: float = 5.0) -> None:
        """Wait for the output to be copied after the process ended."""
        self._pump.join(timeout)

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def terminate(self) -> None:
        """SIGTERM the run (once): the runtime reports Cancelled or Crashed and exits."""
        if self.cancel_sent_at is None:
            self.cancel_sent_at = time.monotonic()
            self._signal(signal.SIGTERM)

    def escalate(self, grace: float) -> bool:
        """SIGKILL a terminated run still alive after ``grace`` seconds; True if it did."""
        if (
            self.cancel_sent_at is not None
            and not self.killed
            and self.poll() is None
            and time.monotonic() - self.cancel_sent_at >= grace
        ):
            self.killed = True
            self._signal(signal.SIGKILL)
            return True
        return False
