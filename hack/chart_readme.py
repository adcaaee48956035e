"""Write charts/baton/README.md from values.yaml, helm-docs style.

Every value of the chart is documented once, by the comment block right above it in
values.yaml, starting with the value's name (Helm best practices). This script turns
those comments into the README's tables (key, type, default, description) and fills
them into the hand-written charts/baton/README.md.gotmpl, so the README cannot drift
from the values (tests/unit/test_chart_readme.py fails when it does):

    .venv/bin/python hack/chart_readme.py           # rewrite charts/baton/README.md
    .venv/bin/python hack/chart_readme.py --check   # exit 1 if it is out of date

The template understands helm-docs' names for what it fills in: ``chart.name``,
``chart.version``, ``chart.appVersion``, ``chart.kubeVersion``, ``chart.description``
and ``chart.valuesSection``, each written ``{{ template "chart.NAME" . }}``. Only
PyYAML is needed (a dev dependency of the repository).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "baton"
TEMPLATE = CHART / "README.md.gotmpl"
TARGET = CHART / "README.md"

_KEY = re.compile(r"^( *)([A-Za-z][A-Za-z0-9]*):")
_PLACEHOLDER = re.compile(r'\{\{-? *template +"chart\.(\w+)" +\. *-?\}\}')


@dataclass(frozen=True)
class Value:
    """One key of values.yaml: its dotted path, default and the comment above it."""

    path: str
    default: Any
    description: str

    @property
    def depth(self) -> int:
        return self.path.count(".")

    @property
    def is_leaf(self) -> bool:
        """A row of a table: anything but a mapping that has keys of its own."""
        return not (isinstance(self.default, dict) and self.default)


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def parse(text: str) -> list[Value]:
    """Every key of values.yaml in file order, with its default and description.

    The description is the comment block right above the key (the lines starting with
    ``#`` up to the first blank or non-comment line), joined into one paragraph.
    Raises ValueError for a key without one: an undocumented value is a defect.
    """
    values = yaml.safe_load(text)
    lines = text.splitlines()
    found: list[Value] = []
    stack: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = _KEY.match(line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(s[1] for s in stack), name])
        stack.append((indent, name))
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#"):
            above -= 1
        comment = [lines[i].strip().removeprefix("#").strip() for i in range(above + 1, number)]
        description = " ".join(part for part in comment if part)
        if not description:
            raise ValueError(f"values.yaml:{number + 1}: {path} has no comment above it")
        found.append(Value(path, _lookup(values, path), description))
    return found


def type_name(value: Any) -> str:
    """helm-docs' type names."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: Any) -> str:
    return f"`{_cell(json.dumps(value, separators=(',', ':')))}`"


def _table(rows: list[Value]) -> list[str]:
    out = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for value in rows:
        out.append(
            f"| `{value.path}` | {type_name(value.default)} | {_default(value.default)} "
            f"| {_cell(value.description)} |"
        )
    return out


def values_section(values: list[Value]) -> str:
    """One table per top-level value, in values.yaml's order.

    A top-level mapping gets a heading and its own comment as the paragraph above its
    table of leaves; consecutive top-level scalars share one table, headed by their names.
    """
    out: list[str] = ["## Values", ""]
    pending: list[Value] = []

    def flush() -> None:
        if pending:
            heading = ", ".join(f"`{v.path}`" for v in pending)
            out.extend([f"### {heading}", "", *_table(pending), ""])
            pending.clear()

    for index, value in enumerate(values):
        if value.depth:
            continue
        if value.is_leaf:
            pending.append(value)
            continue
        flush()
        children = [
            v for v in values[index + 1 :] if v.path.startswith(value.path + ".") and v.is_leaf
        ]
        out.extend([f"### `{value.path}`", "", value.description, "", *_table(children), ""])
    flush()
    return "\n".join(out).rstrip("\n") + "\n"


def render() -> str:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = parse((CHART / "values.yaml").read_text())
    fills = {
        "name": meta["name"],
        "version": meta["version"],
        "appVersion": meta["appVersion"],
        "kubeVersion": meta.get("kubeVersion", ""),
        "description": " ".join(meta["description"].split()),
        "valuesSection": values_section(values).rstrip("\n"),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fills:
            raise SystemExit(f"README.md.gotmpl: unknown template chart.{name}")
        return str(fills[name])

    header = (
        "<!-- Generated from README.md.gotmpl and values.yaml by hack/chart_readme.py "
        "(make chart-readme). Do not edit. -->\n\n"
    )
    return header + _PLACEHOLDER.sub(fill, TEMPLATE.read_text())


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is out of date: run make chart-readme\n")
            return 1
        return 0
    TARGET.write_text(text)
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
