"""``baton logs <flowrun> [-f]``: a run's output, wherever it ran.

A run in a kubernetes pool has a pod: its log comes from the API (``pods/<pod>/log``,
streamed with ``-f``). A run in a process pool has a worker, which keeps the output in a
file (``<log dir>/<namespace>/<run>.log``); that file is read here, so it works on the
worker's machine — the same place ``kubectl logs`` would need a node's disk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from baton.cli.common import CliError, Connection, connect, get_or_fail

Json = dict[str, Any]
TERMINAL = {"Completed", "Failed", "TimedOut", "Crashed", "Cancelled"}
POLL_SECONDS = 0.5
#: After the run ends, keep reading this long for the last lines to land in the file.
SETTLE_SECONDS = 1.5


def _run(conn: Connection, name: str) -> Json:
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    return get_or_fail(conn.client, FLOWRUNS, name, conn.namespace, "flowrun")


def _run_pod(conn: Connection, run: Json) -> str | None:
    """The run's pod: ``status.podName``, else the newest pod of its Job (the Job
    controller labels its pods ``job-name``; the operator records the Job)."""
    from baton._kube.client import PODS  # noqa: PLC0415

    status = run.get("status") or {}
    if status.get("podName"):
        return str(status["podName"])
    job = status.get("jobName")
    if not job:
        return None
    pods = conn.client.list(PODS, conn.namespace, label_selector=f"job-name={job}")
    pods.sort(key=lambda pod: str(pod["metadata"].get("creationTimestamp", "")))
    return str(pods[-1]["metadata"]["name"]) if pods else None


def _pod_logs(conn: Connection, run: Json, pod: str, follow: bool) -> int:
    from baton._kube.client import PODS, NotFound  # noqa: PLC0415

    params = {"container": "flow"}
    if follow:
        params["follow"] = "true"
    try:
        for line in conn.client.stream_text(
            PODS.path(conn.namespace, pod, "log"), params, read_timeout=3600.0
        ):
            print(line, flush=follow)
    except NotFound:
        raise CliError(f'pod "{pod}" of flowrun "{run["metadata"]["name"]}" is gone') from None
    return 0


def _file_logs(conn: Connection, run: Json, path: Path, follow: bool) -> int:
    name = run["metadata"]["name"]
    if not path.exists():
        worker = (run.get("status") or {}).get("worker")
        raise CliError(
            f'no log file for flowrun "{name}" at {path}: worker {worker} keeps its runs\' '
            "logs on its own machine (see --log-dir)"
        )
    with path.open("rb") as handle:
        sys.stdout.buffer.write(handle.read())
        sys.stdout.flush()
        if not follow:
            return 0
        ended_at: float | None = None
        checked = 0.0
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            now = time.monotonic()
            if ended_at is None and now - checked >= 1.0:
                checked = now
                if (_run(conn, name).get("status") or {}).get("state") in TERMINAL:
                    ended_at = now
            if ended_at is not None and now - ended_at >= SETTLE_SECONDS and not chunk:
                return 0
            time.sleep(POLL_SECONDS)


def command(args: argparse.Namespace) -> int:
    from baton.worker import default_log_dir, log_path  # noqa: PLC0415

    conn = connect(args)
    log_dir = Path(args.log_dir) if args.log_dir else default_log_dir()
    waited_since = time.monotonic()
    with conn.client:
        while True:
            run = _run(conn, args.flowrun)
            status = run.get("status") or {}
            pod = _run_pod(conn, run)
            if pod:
                return _pod_logs(conn, run, pod, args.follow)
            path = log_path(log_dir, conn.namespace, args.flowrun)
            if status.get("worker") and (path.exists() or not args.follow):
                return _file_logs(conn, run, path, args.follow)
            state = status.get("state") or "New"
            if not args.follow or state in TERMINAL:
                raise CliError(
                    f'flowrun "{args.flowrun}" has no logs yet: it is {state} and has no pod '
                    "or worker"
                )
            if time.monotonic() - waited_since < POLL_SECONDS * 1.5:
                print(
                    f'waiting for flowrun "{args.flowrun}" to start ({state})...', file=sys.stderr
                )
            time.sleep(POLL_SECONDS)
