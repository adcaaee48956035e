"""Render docs/resources.md from the CRD schemas, so the reference cannot drift."""

from __future__ import annotations

import json
from typing import Any

from baton.contract import API_VERSION
from baton.resources._base import ResourceKind
from baton.resources.crd import custom_resource_definition

INTRO = f"""# Resource reference

Generated from the pydantic models in `operator/baton/resources/` by `make crds`; do not
edit by hand. All kinds are namespaced, in `{API_VERSION}`, in the `baton` category
(`kubectl get baton`). Defaults are applied by the API server, so what you read back
with `kubectl get -o yaml` is what the operator acts on.
"""


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(node.get("type", "any"))
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type(node['additionalProperties'])}"
    if node.get("format") == "date-time":
        return "timestamp"
    return kind


def _rows(node: dict[str, Any], prefix: str) -> list[str]:
    rows = []
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        default = child.get("default")
        shown = "" if default is None else f"`{json.dumps(default)}`"
        limits = [
            f"{k}={child[k]}" for k in ("minimum", "maximum", "maxLength", "maxItems") if k in child
        ]
        notes = child.get("description", "").replace("|", "\\|").replace("\n", " ")
        if limits:
            notes += f" ({', '.join(limits)})"
        for rule in child.get("x-kubernetes-validations", []):
            notes += f" Rule: {rule['message']}."
        flag = " (required)" if name in required else ""
        rows.append(f"| `{path}`{flag} | {_type(child)} | {shown} | {notes.strip()} |")
        target = child.get("items", child) if child.get("type") == "array" else child
        if "properties" in target:
            rows.extend(_rows(target, path + ("[]" if target is not child else "")))
    return rows


def render(kinds: tuple[ResourceKind, ...]) -> str:
    out = [INTRO]
    for kind in kinds:
        crd = custom_resource_definition(kind)
        version = crd["spec"]["versions"][0]
        schema = version["schema"]["openAPIV3Schema"]
        names = crd["spec"]["names"]
        out.append(f"## {kind.kind}\n\n{kind.description}\n")
        out.append(
            f"`kubectl get {kind.plural}` (short names: "
            f"{', '.join(f'`{n}`' for n in names['shortNames'])}). Columns: "
            f"{', '.join(c['name'] for c in version['additionalPrinterColumns'])}.\n"
        )
        for rule in schema.get("x-kubernetes-validations", []):
            out.append(f"Rule: {rule['message']}.\n")
        for section in ("spec", "status"):
            sub = schema["properties"][section]
            out.append(f"### {kind.kind} {section}\n")
            for rule in sub.get("x-kubernetes-validations", []):
                out.append(f"Rule: {rule['message']}.\n")
            out.append("| field | type | default | description |\n|---|---|---|---|")
            out.extend(_rows(sub, section))
            out.append("")
        if kind.guide:
            out.append(kind.guide.strip() + "\n")
    return "\n".join(out)
