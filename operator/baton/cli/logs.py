"""``baton logs <flowrun> [-f] [--task NAME]``: a run's output, wherever it is now.

While the run's pod lives (kubernetes pools), its log comes from the API
(``pods/<pod>/log``, streamed with ``-f``). A run in a process pool has a worker, which
keeps the output in a file (``<log dir>/<namespace>/<run>.log``); that file is read when
it is on this machine. Otherwise — the pod is gone (history limits, TTL, a deleted Job)
or the worker ran elsewhere — the log the runtime kept with the FlowRun is read
(``baton.run_logs``: owned ConfigMaps, capped, with a "truncated" line when the cap
dropped the oldest lines), or with ``--s3`` the full log in the bucket. A first line on
stderr says which source was read.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.cli.common import CliError, Connection, connect, get_or_fail
from baton.contract import TERMINAL_STATES

if TYPE_CHECKING:
    from baton.run_logs import KeptLog

Json = dict[str, Any]
TERMINAL = TERMINAL_STATES
POLL_SECONDS = 0.5
#: After the run ends, keep reading this long for the last lines to land.
SETTLE_SECONDS = 1.5
_TASK_RUN = re.compile(r"\| Task run '([^']*)' - ")


class _Gone(Exception):
    """The pod was recorded but no longer exists."""


def _run(conn: Connection, name: str) -> Json:
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    return get_or_fail(conn.client, FLOWRUNS, name, conn.namespace, "flowrun")


def _say(text: str) -> None:
    print(f"baton: {text}", file=sys.stderr, flush=True)


def _of_task(line: str, task: str | None) -> bool:
    """Whether a console line belongs to ``task`` (a task run name or a task's name)."""
    if task is None:
        return True
    match = _TASK_RUN.search(line)
    return match is not None and (match[1] == task or match[1].rsplit("-", 1)[0] == task)


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


def _pod_logs(conn: Connection, pod: str, follow: bool, task: str | None) -> int:
    from baton._kube.client import PODS, NotFound  # noqa: PLC0415

    params = {"container": "flow"}
    if follow:
        params["follow"] = "true"
    lines = conn.client.stream_text(
        PODS.path(conn.namespace, pod, "log"), params, read_timeout=3600.0
    )
    try:
        first = next(lines, None)
    except NotFound:
        raise _Gone from None
    _say(f"from pod {pod}")
    for line in [first] if first is not None else []:
        if _of_task(line, task):
            print(line, flush=follow)
    for line in lines:
        if _of_task(line, task):
            print(line, flush=follow)
    return 0


def _file_logs(conn: Connection, run: Json, path: Path, follow: bool, task: str | None) -> int:
    name = run["metadata"]["name"]
    _say(f"from worker {(run.get('status') or {}).get('worker')}'s log file {path}")
    with path.open("rb") as handle:
        _write_lines(handle.read(), task)
        if not follow:
            return 0
        ended_at: float | None = None
        checked = 0.0
        rest = b""
        while True:
            chunk = handle.read()
            if chunk:
                *whole, rest = (rest + chunk).split(b"\n")
                _write_lines(b"".join(line + b"\n" for line in whole), task)
            now = time.monotonic()
            if ended_at is None and now - checked >= 1.0:
                checked = now
                if (_run(conn, name).get("status") or {}).get("state") in TERMINAL:
                    ended_at = now
            if ended_at is not None and now - ended_at >= SETTLE_SECONDS and not chunk:
                _write_lines(rest, task)
                return 0
            time.sleep(POLL_SECONDS)


def _write_lines(data: bytes, task: str | None) -> None:
    if task is not None:
        text = data.decode(errors="replace")
        data = "".join(line for line in text.splitlines(True) if _of_task(line, task)).encode()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def _print_entries(entries: Iterable[Any], task: str | None) -> None:
    for entry in entries:
        if task is None or entry.of_task(task):
            print(entry.render())
    sys.stdout.flush()


def _kept_logs(
    conn: Connection, run: Json, kept: KeptLog, why: str, *, follow: bool, task: str | None
) -> int:
    from baton.run_logs import read_kept_log  # noqa: PLC0415

    name, uid = run["metadata"]["name"], str(run["metadata"].get("uid", ""))
    _say(f"kept log, {why} ({kept.chunks} chunks)")
    if kept.marker():
        print(f"… {kept.marker()}")
    _print_entries(kept.entries, task)
    seen = kept.dropped_lines + len(kept.entries)
    ended_at: float | None = None
    while follow:
        time.sleep(POLL_SECONDS * 2)
        kept = read_kept_log(conn.client, name, conn.namespace, uid)
        total = kept.dropped_lines + len(kept.entries)
        fresh = kept.entries[max(0, len(kept.entries) - (total - seen)) :] if total > seen else []
        _print_entries(fresh, task)
        seen = max(seen, total)
        if ended_at is None and _state(_run(conn, name)) in TERMINAL:
            ended_at = time.monotonic()
        if ended_at is not None and time.monotonic() - ended_at >= SETTLE_SECONDS and not fresh:
            break
    return 0


def _s3_logs(conn: Connection, run: Json, task: str | None) -> int:
    import os  # noqa: PLC0415

    from baton.run_logs_s3 import ENV_BUCKET, S3Config, read_s3_log  # noqa: PLC0415

    config = S3Config.from_env(os.environ)
    if config is None:
        raise CliError(f"--s3 needs {ENV_BUCKET} (and the endpoint and credentials) set")
    name, uid = run["metadata"]["name"], str(run["metadata"].get("uid", ""))
    try:
        entries = read_s3_log(config, name, conn.namespace, uid)
    except Exception as error:
        raise CliError(
            f"cannot read the log of {name} from s3://{config.bucket}: {error}"
        ) from None
    _say(f"from s3://{config.bucket}/{config.run_prefix(name, conn.namespace, uid)}")
    _print_entries(entries, task)
    return 0


def _state(run: Json) -> str:
    return str((run.get("status") or {}).get("state") or "New")


def command(args: argparse.Namespace) -> int:
    from baton.run_logs import read_kept_log  # noqa: PLC0415
    from baton.worker import default_log_dir, log_path  # noqa: PLC0415

    conn = connect(args)
    log_dir = Path(args.log_dir) if args.log_dir else default_log_dir()
    task: str | None = getattr(args, "task", None)
    waited_since = time.monotonic()
    with conn.client:
        while True:
            run = _run(conn, args.flowrun)
            status = run.get("status") or {}
            if getattr(args, "s3", False):
                return _s3_logs(conn, run, task)
            pod = _run_pod(conn, run)
            if pod:
                try:
                    return _pod_logs(conn, pod, args.follow, task)
                except _Gone:
                    uid = str(run["metadata"].get("uid", ""))
                    kept = read_kept_log(conn.client, args.flowrun, conn.namespace, uid)
                    if not kept.chunks and not args.follow:
                        raise CliError(
                            f'pod "{pod}" of flowrun "{args.flowrun}" is gone, and no log was kept'
                        ) from None
                    why = f"pod {pod} gone"
                    return _kept_logs(conn, run, kept, why, follow=args.follow, task=task)
            worker = status.get("worker")
            path = log_path(log_dir, conn.namespace, args.flowrun)
            if worker and path.exists():
                return _file_logs(conn, run, path, args.follow, task)
            uid = str(run["metadata"].get("uid", ""))
            kept = read_kept_log(conn.client, args.flowrun, conn.namespace, uid)
            if kept.chunks:
                if worker:
                    why = f"worker {worker}'s log file is not on this machine"
                else:
                    why = "its pod is gone" if status.get("jobName") else "no pod"
                return _kept_logs(conn, run, kept, why, follow=args.follow, task=task)
            if not args.follow or _state(run) in TERMINAL:
                if worker:
                    where = f"worker {worker}'s log file is not on this machine"
                elif status.get("jobName"):
                    where = "its pod is gone"
                else:
                    where = f"it is {_state(run)} and has no pod or worker"
                raise CliError(f'flowrun "{args.flowrun}" has no logs: {where}, and none kept')
            if time.monotonic() - waited_since < POLL_SECONDS * 1.5:
                _say(f'waiting for flowrun "{args.flowrun}" to start ({_state(run)})...')
            time.sleep(POLL_SECONDS)
