"""The process worker: runs the flow runs of a ``type: process`` WorkPool as local processes.

``baton worker start -p <pool>`` and ``Flow.serve()`` both run a ``Worker``. The protocol
with the operator (claim by ``status.worker`` with a resourceVersion precondition,
heartbeats in the pool's ``status.workers``, cancel as SIGTERM) is described in
``docs/workers.md``; ``claims`` holds its pure decisions, ``api`` its writes, ``watch``
the FlowRun cache, ``process`` one child process and ``loop`` the worker itself.
"""

from __future__ import annotations

from baton.worker.api import WorkerError
from baton.worker.claims import worker_identity
from baton.worker.loop import Worker, WorkerOptions, default_log_dir
from baton.worker.process import log_path

__all__ = [
    "Worker",
    "WorkerError",
    "WorkerOptions",
    "default_log_dir",
    "log_path",
    "worker_identity",
]
