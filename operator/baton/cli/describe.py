"""``baton describe <flowrun>``: everything about one run, readable in a terminal.

The same facts as ``kubectl get flowrun -o yaml``, arranged for a person: the state with
its history, timing, where it ran (Job and pod, or process worker), the parameters, the
task runs table with counts per state, artifacts rendered (``render``), the result and
the error with its traceback tail.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from baton.cli import render
from baton.cli.common import connect, get_or_fail

Json = dict[str, Any]
LABEL_WIDTH = 12


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<{LABEL_WIDTH}}{value}"


def _where(run: Json) -> list[str]:
    status = run.get("status") or {}
    lines = []
    if status.get("workPool"):
        lines.append(_field("Work pool", status["workPool"]))
    if status.get("worker"):
        lines.append(_field("Worker", status["worker"]))
    if status.get("jobName"):
        lines.append(_field("Job", status["jobName"]))
    if status.get("podName"):
        lines.append(_field("Pod", status["podName"]))
    return lines


def _parameters(run: Json) -> list[str]:
    params = (run.get("spec") or {}).get("parameters") or {}
    if not params:
        return ["Parameters: (none; the deployment's defaults apply)"]
    lines = ["Parameters:"]
    lines += [f"  {k} = {json.dumps(v, default=str)}" for k, v in params.items()]
    return lines


def _history(status: Json, now: datetime) -> list[str]:
    history = status.get("history") or []
    if not history:
        return []
    rows = [
        [
            render.age(render.parse_time(h.get("timestamp")), now),
            h.get("state"),
            h.get("reason"),
            h.get("message", ""),
        ]
        for h in history
    ]
    return ["", "History:", render.table(["AGE", "STATE", "REASON", "MESSAGE"], rows, indent="  ")]


def _task_runs(status: Json) -> list[str]:
    tasks = status.get("taskRuns") or {}
    if not tasks.get("total"):
        return []
    counts = ", ".join(f"{state} {n}" for state, n in sorted((tasks.get("counts") or {}).items()))
    lines = ["", f"Task runs:  {tasks['total']} ({counts})"]
    rows = [
        [
            t.get("name"),
            t.get("state"),
            render.duration(t.get("startTime"), t.get("endTime")),
            t.get("message", ""),
        ]
        for t in tasks.get("items") or []
    ]
    if rows:
        lines.append(render.table(["NAME", "STATE", "DURATION", "MESSAGE"], rows, indent="  "))
    if tasks.get("omitted"):
        lines.append(f"  … {tasks['omitted']} more task run(s) not listed")
    return lines


def _artifacts(status: Json) -> list[str]:
    artifacts = status.get("artifacts") or []
    if not artifacts:
        return []
    lines = ["", "Artifacts:"]
    for artifact in artifacts:
        lines.append(f"  {render.artifact_title(artifact)}")
        lines.append(render.indent(render.artifact_text(artifact)))
    return lines


def _outcome(status: Json) -> list[str]:
    lines = []
    result = status.get("result")
    if result:
        note = " (truncated)" if result.get("truncated") else ""
        lines += ["", f"Result:     {result.get('preview', '')} ({result.get('type', '?')}){note}"]
    error = status.get("error")
    if error:
        lines += ["", f"Error:      {error.get('type', '')}: {error.get('message', '')}"]
        if error.get("traceback"):
            lines.append(render.indent(error["traceback"].rstrip()))
    return lines


def describe_run(run: Json, now: datetime | None = None) -> str:
    """The whole description of one FlowRun object (pure)."""
    now = now or datetime.now(UTC)
    metadata = run.get("metadata") or {}
    spec = run.get("spec") or {}
    status = run.get("status") or {}
    source = (
        f"deployment {spec['deploymentRef']['name']}"
        if spec.get("deploymentRef")
        else f"flow {(spec.get('flowRef') or {}).get('name', '?')} (ad-hoc)"
    )
    state = status.get("state") or "New"
    if status.get("reason"):
        state += f" ({status['reason']})"
    if spec.get("cancelRequested") and status.get("state") not in ("Cancelled",):
        state += "  [cancel requested]"
    lines = [
        _field("Name", metadata.get("name")),
        _field("Namespace", metadata.get("namespace")),
        _field("Source", source),
        _field("State", state),
    ]
    if status.get("message"):
        lines.append(_field("Message", status["message"]))
    runtime = status.get("runtime") or {}
    started = status.get("startTime") or runtime.get("startTime")
    ended = status.get("endTime") or runtime.get("endTime")
    lines += [
        _field("Scheduled", render.timestamp(spec.get("scheduledTime"), now)),
        _field("Started", render.timestamp(started, now)),
        _field("Ended", render.timestamp(ended, now)),
        _field("Duration", status.get("duration") or render.duration(started, ended)),
        _field("Attempts", status.get("attempts", 0)),
    ]
    lines += _where(run)
    lines += _parameters(run)
    lines += _history(status, now)
    lines += _task_runs(status)
    lines += _artifacts(status)
    lines += _outcome(status)
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        run = get_or_fail(conn.client, FLOWRUNS, args.flowrun, conn.namespace, "flowrun")
    print(describe_run(run) if args.output == "text" else render.api_objects(run, args.output))
    return 0
