"""The Custom Run form: fields from a Flow's ``parameterSchema``, parameters from a post,
and the run's own options (its name, when it starts).

Pure functions. Each top-level property of the schema becomes one field whose widget
follows its JSON type (number, text, a select for enums and booleans, JSON for arrays and
objects), pre-filled with the Deployment's default or the schema's. A submitted value
is converted by the field's type but never judged here: a value that does not convert
stays text, and ``baton.schema_validation.parameter_errors`` — the check the operator makes before
it starts a run — reports it beside its field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baton._schedules.naming import is_subdomain

Json = dict[str, Any]


@dataclass(frozen=True)
class Field:
    """One form field: ``widget`` is number, text, select or json."""

    name: str
    title: str
    widget: str
    json_type: str
    value: str
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass
class Submission:
    """What a post asked for: the parameters it sets and the text typed in each field."""

    parameters: Json = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)


def _resolve(schema: Json, prop: Json) -> Json:
    """A property's own schema, following one local ``$ref`` (pydantic puts enums there)."""
    ref = prop.get("$ref")
    if not ref and isinstance(prop.get("allOf"), list) and len(prop["allOf"]) == 1:
        ref = prop["allOf"][0].get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return {**target, **{k: v for k, v in prop.items() if k not in ("$ref", "allOf")}}
    return prop


def _type_of(prop: Json) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and isinstance(prop.get("anyOf"), list):
        kinds = [p.get("type") for p in prop["anyOf"] if p.get("type") not in (None, "null")]
        kind = kinds[0] if len(kinds) == 1 else None
    return str(kind) if kind else "any"


def _shown(value: Any, json_type: str) -> str:
    if value is None:
        return ""
    if json_type == "string" and isinstance(value, str):
        return value
    if json_type == "boolean":
        return "true" if value else "false"
    return json.dumps(value)


def _position(prop: Any) -> int:
    position = prop.get("position") if isinstance(prop, dict) else None
    return position if isinstance(position, int) else 1 << 30


def fields(schema: Json | None, defaults: Mapping[str, Any]) -> list[Field]:
    """The form's fields, in the schema's order; ``defaults`` are the Deployment's."""
    schema = schema or {}
    required = set(schema.get("required") or [])
    out = []
    properties = schema.get("properties") or {}
    # The API server does not keep a JSON object's key order; the signature's order is
    # in each property's ``position`` (Prefect's schema has it too).
    order = sorted(properties, key=lambda n: _position(properties[n]))
    for name in order:
        raw = properties[name]
        prop = _resolve(schema, raw if isinstance(raw, dict) else {})
        json_type = _type_of(prop)
        value = defaults[name] if name in defaults else prop.get("default")
        choices: tuple[str, ...] = ()
        if isinstance(prop.get("enum"), list):
            widget, choices = "select", tuple(_shown(c, json_type) for c in prop["enum"])
        elif json_type == "boolean":
            widget, choices = "select", ("true", "false")
        elif json_type in ("integer", "number"):
            widget = "number"
        elif json_type == "string":
            widget = "text"
        else:
            widget = "json"
        out.append(
            Field(
                name=name,
                title=str(prop.get("title") or name),
                widget=widget,
                json_type=json_type,
                value=_shown(value, json_type),
                required=name in required and name not in defaults and "default" not in prop,
                description=str(prop.get("description") or ""),
                choices=choices,
            )
        )
    return out


def _convert(text: str, json_type: str) -> Any:
    """The typed value of ``text``; unconvertible text is returned as is, for the validator."""
    if json_type == "string":
        return text
    if json_type == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def submission(schema_fields: list[Field], form: Mapping[str, str]) -> Submission:
    """Parameters from a posted form: an empty field is left out (its default applies)."""
    result = Submission()
    for item in schema_fields:
        text = form.get(f"param.{item.name}", "")
        result.typed[item.name] = text
        if item.json_type != "string":
            text = text.strip()
        if text:
            result.parameters[item.name] = _convert(text, item.json_type)
    return result


@dataclass
class RunOptions:
    """A Custom Run's optional name and start (``None``: generated, now) and what is wrong."""

    name: str | None = None
    start: datetime | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)


def run_options(form: Mapping[str, str], now: datetime) -> RunOptions:
    """The run's name (``run.name``, a DNS-1123 subdomain) and start (``run.start``,
    ``YYYY-MM-DDTHH:MM[:SS]`` in UTC, or with an offset): a start not after ``now`` means
    now, so the run is not given a scheduled time at all."""
    name = form.get("run.name", "").strip()
    start_text = form.get("run.start", "").strip()
    options = RunOptions(typed={"run.name": name, "run.start": start_text})
    if name:
        if is_subdomain(name):
            options.name = name
        else:
            options.errors["run.name"] = [
                f"{name!r} is not a valid name: lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit, at most 253 characters"
            ]
    if start_text:
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            options.errors["run.start"] = [f"{start_text!r} is not a date and time"]
        else:
            start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
            options.start = start if start > now else None
    return options
