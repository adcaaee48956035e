"""Prefect's command words that Baton has no command of its own for.

``baton deployment ls|inspect|delete``, ``baton deployment schedule create|ls|pause|resume|
delete`` and ``baton work-pool create|ls|inspect|pause|resume``: each is a read or one
write of the object, as ``kubectl`` would do it. Schedules have no IDs in Baton (they are
a list in the Deployment's spec), so ``schedule ls`` numbers them from 1 and the other
schedule commands take that number. A schedule change is a read-modify-write guarded by
the object's ``resourceVersion``: a concurrent edit makes it fail rather than be lost.
Under GitOps these writes show as drift, as ``kubectl edit`` would.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from baton.cli import render
from baton.cli.common import CliError, Connection, connect, deployment_name, get_or_fail
from baton.resources import API_VERSION

if TYPE_CHECKING:
    from baton._kube.client import Kind

Json = dict[str, Any]


def _inspect(body: Json) -> str:
    return render.api_objects(body, "yaml")


def _schedule_text(schedule: Json) -> str:
    for key in ("cron", "interval", "rrule"):
        if key in schedule:
            text = f"{key} {schedule[key]}" + ("s" if key == "interval" else "")
            return text + (f" ({schedule['timezone']})" if schedule.get("timezone") else "")
    return "?"


def _listing(
    args: argparse.Namespace,
    kind: Kind,
    what: str,
    headers: list[str],
    row: Callable[[Json], list[Any]],
    *,
    wide: tuple[list[str], Callable[[Json], list[Any]]],
) -> int:
    """``ls``: the namespace's objects of ``kind`` by name, in the ``-o`` format asked.

    ``wide`` is the extra columns of ``-o wide`` and their values, after ``row``'s.
    """
    conn = connect(args)
    with conn.client:
        items = sorted(
            conn.client.list(kind, conn.namespace), key=lambda i: str(i["metadata"]["name"])
        )
    if not items and args.output not in ("json", "yaml"):
        print(f'No {what} found in namespace "{conn.namespace}".', file=sys.stderr)
        return 0

    def rows(objects: Sequence[Json], with_wide: bool) -> str:
        if not with_wide:
            return render.table(headers, [row(o) for o in objects])
        return render.table(headers + wide[0], [row(o) + wide[1](o) for o in objects])

    print(render.listing(items, args.output, rows))
    return 0


def _ready(item: Json) -> list[Any]:
    """The READY and REASON columns: the object's Ready condition."""
    ready: Json = next(
        (c for c in (item.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
        {},
    )
    return [ready.get("status", "-"), ready.get("reason", "-")]


def deployment_ls(args: argparse.Namespace) -> int:
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    def row(item: Json) -> list[Any]:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        return [
            f"{(spec.get('flowRef') or {}).get('name', '?')}/{item['metadata']['name']}",
            (spec.get("workPoolRef") or {}).get("name", "default"),
            ", ".join(_schedule_text(s) for s in spec.get("schedules") or []) or "-",
            "yes" if spec.get("paused") else "no",
            render.timestamp(status.get("nextRunTime")),
        ]

    def wide(item: Json) -> list[Any]:
        status = item.get("status") or {}
        return [
            status.get("activeRuns", 0),
            (status.get("lastRun") or {}).get("state", "-"),
            *_ready(item),
        ]

    headers = ["FLOW/DEPLOYMENT", "POOL", "SCHEDULES", "PAUSED", "NEXT"]
    extra = ["ACTIVE", "LAST", "READY", "REASON"]
    return _listing(args, DEPLOYMENTS, "deployments", headers, row, wide=(extra, wide))


def deployment_inspect(args: argparse.Namespace) -> int:
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        name = deployment_name(args.name)
        print(_inspect(get_or_fail(conn.client, DEPLOYMENTS, name, conn.namespace, "deployment")))
    return 0


def deployment_delete(args: argparse.Namespace) -> int:
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    conn = connect(args)
    name = deployment_name(args.name)
    with conn.client:
        get_or_fail(conn.client, DEPLOYMENTS, name, conn.namespace, "deployment")
        conn.client.delete(DEPLOYMENTS, name, conn.namespace)
    print(f'deployment "{name}" deleted')
    return 0


def _edit_schedules(
    conn: Connection, name: str, change: Callable[[list[Json]], list[Json]]
) -> list[Json]:
    """Apply ``change(schedules) -> schedules`` with optimistic concurrency; the new list."""
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    deployment = get_or_fail(conn.client, DEPLOYMENTS, name, conn.namespace, "deployment")
    schedules = change(list((deployment.get("spec") or {}).get("schedules") or []))
    patch = {
        "metadata": {"resourceVersion": deployment["metadata"]["resourceVersion"]},
        "spec": {"schedules": schedules},
    }
    conn.client.patch(DEPLOYMENTS, name, conn.namespace, patch)
    return schedules


def _numbered(schedules: list[Json], index: int, name: str) -> int:
    if not 1 <= index <= len(schedules):
        raise CliError(
            f'deployment "{name}" has {len(schedules)} schedule(s); '
            f"pick one of 1..{len(schedules)} (baton deployment schedule ls {name})"
        )
    return index - 1


def schedule_create(args: argparse.Namespace) -> int:
    from baton.deploy import schedule_entry  # noqa: PLC0415

    entry = schedule_entry(args.cron, args.interval, args.rrule, args.timezone)
    name = deployment_name(args.name)
    conn = connect(args)
    with conn.client:
        schedules = _edit_schedules(conn, name, lambda current: [*current, entry])
    print(f'deployment "{name}": schedule {len(schedules)} created: {_schedule_text(entry)}')
    return 0


def schedule_ls(args: argparse.Namespace) -> int:
    from baton._kube.client import DEPLOYMENTS  # noqa: PLC0415

    name = deployment_name(args.name)
    conn = connect(args)
    with conn.client:
        deployment = get_or_fail(conn.client, DEPLOYMENTS, name, conn.namespace, "deployment")
    schedules = (deployment.get("spec") or {}).get("schedules") or []
    if not schedules:
        print(f'deployment "{name}" has no schedules')
        return 0
    rows = [
        [i, _schedule_text(s), "yes" if s.get("active", True) else "no"]
        for i, s in enumerate(schedules, start=1)
    ]
    print(render.table(["#", "SCHEDULE", "ACTIVE"], rows))
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    name = deployment_name(args.name)
    conn = connect(args)

    def change(current: list[Json]) -> list[Json]:
        position = _numbered(current, args.index, name)
        current[position] = {**current[position], "active": active}
        return current

    with conn.client:
        _edit_schedules(conn, name, change)
    print(f'deployment "{name}": schedule {args.index} {"resumed" if active else "paused"}')
    return 0


def schedule_pause(args: argparse.Namespace) -> int:
    return _set_active(args, False)


def schedule_resume(args: argparse.Namespace) -> int:
    return _set_active(args, True)


def schedule_delete(args: argparse.Namespace) -> int:
    name = deployment_name(args.name)
    conn = connect(args)

    def change(current: list[Json]) -> list[Json]:
        del current[_numbered(current, args.index, name)]
        return current

    with conn.client:
        _edit_schedules(conn, name, change)
    print(f'deployment "{name}": schedule {args.index} deleted')
    return 0


def pool_create(args: argparse.Namespace) -> int:
    from baton._kube.client import WORKPOOLS, ApiError  # noqa: PLC0415

    spec: Json = {"type": args.type}
    if args.concurrency_limit is not None:
        spec["concurrencyLimit"] = args.concurrency_limit
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkPool",
        "metadata": {"name": args.name},
        "spec": spec,
    }
    conn = connect(args)
    with conn.client:
        try:
            conn.client.create(WORKPOOLS, body, conn.namespace)
        except ApiError as error:
            if error.status == 409:
                raise CliError(
                    f'work pool "{args.name}" already exists in namespace "{conn.namespace}"'
                ) from None
            raise
    print(f'work pool "{args.name}" created ({args.type})')
    return 0


def pool_ls(args: argparse.Namespace) -> int:
    from baton._kube.client import WORKPOOLS  # noqa: PLC0415

    def row(item: Json) -> list[Any]:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        return [
            item["metadata"]["name"],
            spec.get("type", "kubernetes"),
            "yes" if spec.get("paused") else "no",
            spec.get("concurrencyLimit", "-"),
            status.get("running", "-"),
            status.get("queued", "-"),
        ]

    def wide(item: Json) -> list[Any]:
        return [len((item.get("status") or {}).get("workers") or []), *_ready(item)]

    headers = ["NAME", "TYPE", "PAUSED", "LIMIT", "RUNNING", "QUEUED"]
    extra = ["WORKERS", "READY", "REASON"]
    return _listing(args, WORKPOOLS, "work pools", headers, row, wide=(extra, wide))


def pool_inspect(args: argparse.Namespace) -> int:
    from baton._kube.client import WORKPOOLS  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        print(_inspect(get_or_fail(conn.client, WORKPOOLS, args.name, conn.namespace, "work pool")))
    return 0


def _pool_paused(args: argparse.Namespace, paused: bool) -> int:
    from baton._kube.client import WORKPOOLS  # noqa: PLC0415

    conn = connect(args)
    with conn.client:
        get_or_fail(conn.client, WORKPOOLS, args.name, conn.namespace, "work pool")
        conn.client.patch(WORKPOOLS, args.name, conn.namespace, {"spec": {"paused": paused}})
    print(f'work pool "{args.name}" {"paused" if paused else "resumed"}')
    return 0


def pool_pause(args: argparse.Namespace) -> int:
    return _pool_paused(args, True)


def pool_resume(args: argparse.Namespace) -> int:
    return _pool_paused(args, False)
