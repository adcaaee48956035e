"""Terminal rendering: aligned tables, ages and durations, and the runtime's artifacts.

Pure string functions, unit-tested. Artifacts arrive as the runtime stored them in the
FlowRun status (``data`` is text; tables and progress are JSON text): markdown becomes
plain text, tables aligned text tables, links ``text: url``, progress a bar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from baton import contract

Json = dict[str, Any]
MAX_CELL = 60
MAX_TABLE_ROWS = 20
BAR_WIDTH = 20


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "") -> str:
    """Columns aligned with three spaces between them, as ``kubectl get`` prints."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = []
    for row in [list(headers), *texts]:
        padded = [value.ljust(widths[i]) for i, value in enumerate(row)]
        lines.append(indent + "   ".join(padded).rstrip())
    return "\n".join(lines)


def api_objects(objects: Json | Sequence[Json], output: str) -> str:
    """``-o json|yaml``: the API objects as the server returned them, as kubectl prints them.

    One object prints as itself; several (a listing) as a ``v1`` ``List`` whose ``items``
    are the objects, so ``baton runs -o json | jq '.items[]'`` works like ``kubectl get``.
    """
    objects = (
        _without_managed_fields(objects)
        if isinstance(objects, dict)
        else [_without_managed_fields(o) for o in objects]
    )
    document: Any = (
        objects
        if isinstance(objects, dict)
        else {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": list(objects),
        }
    )
    if output == "json":
        return json.dumps(document, indent=4, ensure_ascii=False)
    import yaml  # noqa: PLC0415 - only for -o yaml

    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True)).rstrip("\n")


#: What ``-o`` accepts on every listing (``runs``, ``deployment ls``, ``work-pool ls``).
LIST_OUTPUTS = ("table", "wide", "name", "json", "yaml")


def listing(
    objects: Sequence[Json], output: str, rows: Callable[[Sequence[Json], bool], str]
) -> str:
    """A listing in one ``-o`` format: ``rows(objects, wide)`` renders table and wide.

    ``name`` prints one name a line; ``json``/``yaml`` the API objects as a ``List``
    (``api_objects``), so every listing scripts the same way as ``kubectl get``.
    """
    if output == "name":
        return "\n".join(str(o["metadata"]["name"]) for o in objects)
    if output in ("json", "yaml"):
        return api_objects(list(objects), output)
    return rows(objects, output == "wide")


def _without_managed_fields(body: Json) -> Json:
    """kubectl hides ``metadata.managedFields`` unless asked (``--show-managed-fields``)."""
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": metadata}


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return contract.parse_time(value)
    except ValueError:
        return None


def age(when: datetime | None, now: datetime | None = None) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: how long ago (``in 5m`` for the future)."""
    if when is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    ahead, seconds = seconds < 0, abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            text = f"{seconds // size}{unit}"
            break
    else:
        text = f"{seconds}s"
    return f"in {text}" if ahead else text


def timestamp(value: Any, now: datetime | None = None) -> str:
    """``2026-01-01 10:00:00 (5m ago)`` in UTC, or ``-``."""
    when = parse_time(value)
    if when is None:
        return "-"
    ago = age(when, now)
    relative = ago if ago.startswith("in ") else f"{ago} ago"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({relative})"


def duration(start: Any, end: Any) -> str:
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return "-"
    seconds = max(0.0, (last - first).total_seconds())
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def markdown_text(text: str) -> str:
    """Markdown as readable plain text: headings underlined, emphasis and links unwrapped."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = _LINK.sub(lambda m: f"{m[1]} ({m[2]})" if m[1] and m[1] != m[2] else m[2], raw)
        line = _EMPHASIS.sub(r"\2", line)
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            title = heading[2].strip()
            lines.append(title)
            lines.append(("=" if len(heading[1]) == 1 else "-") * len(title))
            continue
        lines.append(re.sub(r"^(\s*)[-*+]\s+", r"\1• ", line))
    return "\n".join(lines).strip("\n")


def table_text(data: Any) -> str:
    """A table artifact (list of row dicts, dict of columns, or list of rows) as text."""
    if isinstance(data, dict):
        headers = [str(k) for k in data]
        columns = [list(v) if isinstance(v, list) else [v] for v in data.values()]
        height = max((len(c) for c in columns), default=0)
        rows = [[c[i] if i < len(c) else None for c in columns] for i in range(height)]
    elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
        headers = []
        for row in data:
            headers.extend(str(k) for k in row if str(k) not in headers)
        rows = [[row.get(h) for h in headers] for row in data]
    elif isinstance(data, list):
        rows = [list(r) if isinstance(r, list) else [r] for r in data]
        headers = [str(i) for i in range(max((len(r) for r in rows), default=0))]
    else:
        return cell(data)
    if not headers:
        return "(empty table)"
    shown = table(headers, rows[:MAX_TABLE_ROWS])
    if len(rows) > MAX_TABLE_ROWS:
        shown += f"\n… {len(rows) - MAX_TABLE_ROWS} more row(s)"
    return shown


def progress_bar(value: Any) -> str:
    try:
        percent = max(0.0, min(100.0, float(value)))
    except (TypeError, ValueError):
        return cell(value)
    filled = round(percent / 100 * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:.0f}%"


def link_text(data: str) -> str:
    match = _LINK.fullmatch(data.strip())
    if match:
        return f"{match[1]}: {match[2]}" if match[1] else match[2]
    return data.strip()


def _decoded(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def artifact_text(artifact: Json) -> str:
    """The body of one artifact for a terminal (without its title line)."""
    kind = artifact.get("type", "")
    data = str(artifact.get("data", ""))
    if kind == "markdown":
        body = markdown_text(data)
    elif kind == "table":
        decoded = _decoded(data)
        body = table_text(decoded) if not isinstance(decoded, str) else data
    elif kind == "progress":
        body = progress_bar(_decoded(data))
    elif kind == "link":
        body = link_text(data)
    else:
        body = data
    if artifact.get("truncated"):
        where = artifact.get("configMap")
        body += f"\n(truncated{f'; full content in ConfigMap {where}' if where else ''})"
    return body


def artifact_title(artifact: Json) -> str:
    key = artifact.get("key") or "(no key)"
    title = f"{key} [{artifact.get('type', '?')}]"
    if artifact.get("description"):
        title += f" — {markdown_text(str(artifact['description']))}"
    return title


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())
