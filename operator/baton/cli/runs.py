"""Commands on runs and deployments: ``run``, ``runs``, ``cancel``, ``pause``, ``resume``.

Each is one or two API calls. ``run`` creates an ad-hoc ("custom") FlowRun of a
Deployment, named ``<deployment>-custom-<5 random characters>`` so it never collides with
a scheduled run's deterministic name; ``--watch`` follows it to a terminal state and
exits 0 only for Completed. ``pause``/``resume`` write ``spec.paused`` — the user's own
action on the user's own object, so GitOps tools show it as drift, on purpose.
``resume`` of a *paused FlowRun* (``pause_flow_run`` in its flow) writes its
``spec.resume`` instead, with ``--input name=value`` for a flow waiting for input.
"""

from __future__ import annotations

import argparse
import secrets
import string
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from baton.cli import render
from baton.cli.common import (
    CliError,
    Connection,
    connect,
    deployment_name,
    get_or_fail,
    parse_params,
)
from baton.contract import TERMINAL_STATES, owner_reference
from baton.resources import API_VERSION

Json = dict[str, Any]
TERMINAL = TERMINAL_STATES
POLL_SECONDS = 0.5
PROGRESS_EVERY = 30.0
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def custom_run_name(deployment: str) -> str:
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return f"{deployment[: 253 - 13]}-custom-{suffix}"


def custom_run(
    deployment: Json | None,
    parameters: Json,
    name: str,
    *,
    scheduled_time: datetime | None = None,
    flow: str = "",
    pool: str | None = None,
) -> Json:
    """The FlowRun manifest of an ad-hoc run, labelled and owned like a scheduled one.

    A run of ``deployment`` (owned by it), or without one (``None``) a run of ``flow`` in
    ``pool`` (the API's default pool when unset). ``scheduled_time`` sets when it starts
    (unset: as soon as admitted). Quick Run, Custom Run, Retry and ``baton run`` all build
    their runs here.
    """
    from baton.contract import (  # noqa: PLC0415 - pure constants
        LABEL_DEPLOYMENT,
        LABEL_FLOW,
        LABEL_POOL,
        MANAGED_BY,
        format_time,
        label_value,
    )

    labels: dict[str, str] = dict(MANAGED_BY)
    metadata: Json = {"name": name, "labels": labels}
    spec: Json
    if deployment is not None:
        meta = deployment["metadata"]
        dspec = deployment.get("spec") or {}
        labels[LABEL_DEPLOYMENT] = label_value(meta["name"])
        flow = (dspec.get("flowRef") or {}).get("name", "")
        pool = (dspec.get("workPoolRef") or {}).get("name", "default")
        metadata["ownerReferences"] = [owner_reference("Deployment", meta["name"], meta["uid"])]
        spec = {"deploymentRef": {"name": meta["name"]}, "parameters": parameters}
    else:
        spec = {"flowRef": {"name": flow}, "parameters": parameters}
        if pool:
            spec["workPoolRef"] = {"name": pool}
    labels[LABEL_FLOW] = label_value(flow)
    labels[LABEL_POOL] = label_value(pool or "default")
    if scheduled_time is not None:
        spec["scheduledTime"] = format_time(scheduled_time)
    return {"apiVersion": API_VERSION, "kind": "FlowRun", "metadata": metadata, "spec": spec}


def _line(when: datetime | None, state: Any, reason: Any, message: Any) -> str:
    stamp = (when or datetime.now(UTC)).astimezone().strftime("%H:%M:%S")
    text = f"{stamp}  {state or 'New'}"
    if reason:
        text += f" ({reason})"
    return text + (f": {message}" if message else "")


class StatePrinter:
    """Prints each state a run went through once, including those between two polls
    (from ``status.history``), then the current state when its message changes."""

    def __init__(self) -> None:
        self.seen: set[tuple[Any, ...]] = set()
        self.last: tuple[Any, ...] | None = None

    def lines(self, run: Json) -> list[str]:
        status = run.get("status") or {}
        out = []
        for entry in status.get("history") or []:
            key = (entry.get("timestamp"), entry.get("state"), entry.get("reason"))
            if key in self.seen:
                continue
            self.seen.add(key)
            self.last = (entry.get("state"), entry.get("reason"), entry.get("message", ""))
            when = render.parse_time(entry.get("timestamp"))
            out.append(_line(when, *self.last))
        current = (status.get("state"), status.get("reason"), status.get("message", ""))
        # History keeps a message's first 300 characters: a longer one is not news.
        if (
            self.last is None
            or current[:2] != self.last[:2]
            or not str(current[2]).startswith(str(self.last[2]))
        ):
            self.last = current
            out.append(_line(None, *current))
        return out


def watch_run(conn: Connection, name: str, timeout: float | None) -> str:
    """Print each state change of run ``name`` until it is terminal; its final state."""
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    started = time.monotonic()
    last_progress = started
    printer = StatePrinter()
    while True:
        run = get_or_fail(conn.client, FLOWRUNS, name, conn.namespace, "flowrun")
        state = (run.get("status") or {}).get("state")
        lines = printer.lines(run)
        for line in lines:
            print(line, flush=True)
        if lines:
            last_progress = time.monotonic()
        if state in TERMINAL:
            return str(state)
        waited = time.monotonic() - started
        if timeout is not None and waited > timeout:
            raise CliError(f'flowrun "{name}" still {state or "New"} after {timeout:g}s')
        if time.monotonic() - last_progress >= PROGRESS_EVERY:
            last_progress = time.monotonic()
            print(f"{time.strftime('%H:%M:%S')}  … still {state or 'New'} after {waited:.0f}s")
        time.sleep(POLL_SECONDS)


def run_command(args: argparse.Namespace) -> int:
    from baton._kube.client import DEPLOYMENTS, FLOWRUNS  # noqa: PLC0415

    parameters = parse_params(args.param)
    wanted = deployment_name(args.deployment)
    conn = connect(args)
    with conn.client:
        deployment = get_or_fail(conn.client, DEPLOYMENTS, wanted, conn.namespace, "deployment")
        name = custom_run_name(wanted)
        conn.client.create(FLOWRUNS, custom_run(deployment, parameters, name), conn.namespace)
        print(f'flowrun "{name}" created in namespace "{conn.namespace}"', flush=True)
        if not args.watch:
            return 0
        final = watch_run(conn, name, args.timeout)
    print(f'flowrun "{name}" {final}')
    return 0 if final == "Completed" else 1


def _matches(run: Json, deployment: str | None, state: str | None) -> bool:
    spec = run.get("spec") or {}
    if deployment and (spec.get("deploymentRef") or {}).get("name") != deployment:
        return False
    return not state or str((run.get("status") or {}).get("state") or "").lower() == state.lower()


WIDE_HEADERS = ["POOL", "ATTEMPTS", "JOB", "REASON"]


def runs_table(
    runs: list[Json],
    *,
    all_namespaces: bool,
    now: datetime | None = None,
    wide: bool = False,
    headers: bool = True,
) -> str:
    """``kubectl get``-style rows; ``wide`` adds the pool, attempts, Job and reason."""
    now = now or datetime.now(UTC)
    names = ["NAME", "DEPLOYMENT", "STATE", "SCHEDULED", "DURATION", "TASKS", "AGE"]
    if all_namespaces:
        names.insert(0, "NAMESPACE")
    if wide:
        names += WIDE_HEADERS
    rows = []
    for run in runs:
        metadata, spec = run["metadata"], run.get("spec") or {}
        status = run.get("status") or {}
        source = (spec.get("deploymentRef") or {}).get("name") or (
            f"(flow {(spec.get('flowRef') or {}).get('name', '?')})"
        )
        scheduled = render.parse_time(spec.get("scheduledTime"))
        row = [
            metadata["name"],
            source,
            status.get("state") or "New",
            f"{scheduled:%Y-%m-%d %H:%M:%S}" if scheduled else "-",
            status.get("duration") or "-",
            (status.get("taskRuns") or {}).get("total", "-"),
            render.age(render.parse_time(metadata.get("creationTimestamp")), now),
        ]
        if all_namespaces:
            row.insert(0, metadata["namespace"])
        if wide:
            row += [
                status.get("workPool") or "-",
                status.get("attempts", "-"),
                status.get("jobName") or "-",
                status.get("reason") or "-",
            ]
        rows.append(row)
    text = render.table(names, rows)
    return text if headers else "\n".join(text.splitlines()[1:])


def _order(run: Json) -> tuple[str, str]:
    spec = run.get("spec") or {}
    when = spec.get("scheduledTime") or run["metadata"].get("creationTimestamp") or ""
    return str(when), str(run["metadata"]["name"])


def _print_runs(runs: list[Json], args: argparse.Namespace, *, first: bool) -> None:
    """One batch of runs in the chosen ``-o`` format (a watch prints one batch per event)."""
    if args.watch and args.output in ("json", "yaml"):
        separator = "\n---" if args.output == "yaml" else ""
        for run in runs:  # watching: one document per object, as kubectl -w prints them
            print(render.api_objects(run, args.output) + separator, flush=True)
        return

    def rows(items: Sequence[Json], wide: bool) -> str:
        return runs_table(list(items), all_namespaces=args.all_namespaces, wide=wide, headers=first)

    text = render.listing(runs, args.output, rows)
    if text:
        print(text, flush=True)


def runs_command(args: argparse.Namespace) -> int:
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    conn = connect(args)
    namespace = None if args.all_namespaces else conn.namespace
    with conn.client:
        items, version = conn.client.list_versioned(
            FLOWRUNS, namespace, label_selector=args.selector
        )
        runs = sorted((r for r in items if _matches(r, args.deployment, args.state)), key=_order)
        if runs or args.output in ("json", "yaml"):
            _print_runs(runs, args, first=True)
        elif not args.watch:
            where = "any namespace" if args.all_namespaces else f'namespace "{conn.namespace}"'
            print(f"No flow runs found in {where}.", file=sys.stderr)
        if args.watch:
            follow_runs(conn, namespace, args, version, header_printed=bool(runs))
    return 0


def follow_runs(
    conn: Connection,
    namespace: str | None,
    args: argparse.Namespace,
    version: str,
    *,
    header_printed: bool,
) -> None:
    """``runs -w``: print each run again whenever it changes, until interrupted.

    Follows a watch from the listing's resourceVersion, resuming after the server closes
    the stream (bookmarks keep the version fresh) and listing again when the version is
    too old (410 Gone), as client-go's reflector does.
    """
    import httpx  # noqa: PLC0415

    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    first = not header_printed
    while True:
        try:
            for event in conn.client.watch(
                FLOWRUNS, namespace, label_selector=args.selector, resource_version=version
            ):
                body = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if body.get("code") == 410:
                        _, version = conn.client.list_versioned(
                            FLOWRUNS, namespace, label_selector=args.selector
                        )
                        break
                    raise CliError(f"watch failed: {body.get('message') or body}")
                version = body.get("metadata", {}).get("resourceVersion") or version
                if event.get("type") == "BOOKMARK" or not _matches(
                    body, args.deployment, args.state
                ):
                    continue
                _print_runs([body], args, first=first)
                first = False
        except httpx.ReadTimeout:
            continue  # an idle stream past its read timeout: watch again from `version`


def cancel_command(args: argparse.Namespace) -> int:
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        run = get_or_fail(conn.client, FLOWRUNS, args.flowrun, conn.namespace, "flowrun")
        state = (run.get("status") or {}).get("state")
        if state in TERMINAL:
            raise CliError(f'flowrun "{args.flowrun}" already ended: {state}')
        conn.client.patch(
            FLOWRUNS, args.flowrun, conn.namespace, {"spec": {"cancelRequested": True}}
        )
        print(f'flowrun "{args.flowrun}" cancel requested', flush=True)
        if not args.wait:
            return 0
        final = watch_run(conn, args.flowrun, args.timeout)
    print(f'flowrun "{args.flowrun}" {final}')
    return 0 if final == "Cancelled" else 1


def set_paused(args: argparse.Namespace, paused: bool) -> int:
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    name = deployment_name(args.deployment)
    conn = connect(args)
    with conn.client:
        get_or_fail(conn.client, DEPLOYMENTS, name, conn.namespace, "deployment")
        conn.client.patch(DEPLOYMENTS, name, conn.namespace, {"spec": {"paused": paused}})
    word = "paused: no new scheduled runs" if paused else "resumed"
    print(f'deployment "{name}" {word}')
    return 0


def pause_command(args: argparse.Namespace) -> int:
    return set_paused(args, True)


def resume_command(args: argparse.Namespace) -> int:
    """``baton resume NAME``: a paused FlowRun of that name, else the Deployment's schedules."""
    from baton._kube.client import FLOWRUNS, NotFound  # noqa: PLC0415

    if getattr(args, "input", None):
        return resume_run(args, args.deployment)
    conn = connect(args)
    with conn.client:
        try:
            run = conn.client.get(FLOWRUNS, args.deployment, conn.namespace)
        except NotFound:
            run = None
    if run is not None and _waiting_pause(run.get("status") or {}):
        return resume_run(args, args.deployment)
    return set_paused(args, False)


def _waiting_pause(status: Json) -> Json | None:
    """The pause the run's runtime says it waits in (its own report, ahead of the state)."""
    pause = status.get("pause") or {}
    runtime = status.get("runtime") or {}
    return pause if pause.get("key") and runtime.get("state") == "Paused" else None


def flow_run_resume_command(args: argparse.Namespace) -> int:
    return resume_run(args, args.flowrun)


def resume_run(args: argparse.Namespace, name: str) -> int:
    """Resume a paused FlowRun: ``spec.resume`` with the pause's key and the input.

    The input is checked here against the schema the flow recorded (the runtime checks it
    again against the model), so a typo is refused before anything is written.
    """
    from baton._kube.client import FLOWRUNS  # noqa: PLC0415
    from baton.cluster_pauses import resume_patch  # noqa: PLC0415
    from baton.flow_runs import input_problem  # noqa: PLC0415

    run_input = parse_params(getattr(args, "input", None)) or None
    conn = connect(args)
    with conn.client:
        run = get_or_fail(conn.client, FLOWRUNS, name, conn.namespace, "flowrun")
        status = run.get("status") or {}
        pause = _waiting_pause(status)
        if pause is None:
            raise CliError(f'flowrun "{name}" is not paused (state {status.get("state")})')
        schema = pause.get("inputSchema")
        if schema is not None and run_input is None:
            run_input = {}
        problem = input_problem(schema, run_input)
        if problem:
            raise CliError(f'flowrun "{name}": {problem}')
        conn.client.patch(FLOWRUNS, name, conn.namespace, resume_patch(pause["key"], run_input))
    print(f'flowrun "{name}" resumed')
    return 0
