"""Turn the pydantic models into CustomResourceDefinitions.

Kubernetes accepts only *structural* OpenAPI v3 schemas: no ``$ref``, no ``null`` type,
no ``anyOf`` carrying types, ``x-kubernetes-*`` extensions for free-form and int-or-string
values. Pydantic emits JSON Schema 2020-12; this module rewrites one into the other, so
the models stay the single source of truth for field names, defaults and bounds.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema, to_jsonable_python

from baton.contract import API_VERSION, GROUP, VERSION
from baton.resources._base import CATEGORY, Model, ResourceKind

#: JSON Schema keywords that mean nothing to Kubernetes.
_DROP = ("title", "$schema")

#: What ``kubectl explain`` says of apiVersion and kind (as for built-in kinds). The API
#: server describes ``metadata`` itself (ObjectMeta) and refuses a schema that does.
_OBJECT_FIELDS = {
    "apiVersion": "APIVersion defines the versioned schema of this representation of an "
    f"object: {API_VERSION}.",
    "kind": "Kind is a string value representing the REST resource this object represents.",
}


def _plain(docstring: str) -> str:
    """A model docstring as a CRD description: its first paragraph, on one line.

    The rest of a docstring speaks to Python readers; ``kubectl explain`` prints plain
    text, so descriptions are written without markup (a unit test walks every schema).
    """
    return " ".join(docstring.strip().split("\n\n", 1)[0].split())


class _WithFactoryDefaults(GenerateJsonSchema):
    """Also emit defaults produced by ``default_factory`` (the API server applies them)."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, Model):
                value = value.to_wire()
            schema = {**schema, "default": value}
            schema.pop("default_factory", None)
        return super().default_schema(schema)


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **siblings}, defs)
    return {key: _resolve(value, defs) for key, value in node.items()}


def _structural(node: Any, *, keep_defaults: bool) -> Any:
    """Rewrite one resolved JSON Schema node into Kubernetes' structural dialect."""
    if isinstance(node, list):
        return [_structural(item, keep_defaults=keep_defaults) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if node.get("x-kubernetes-int-or-string"):
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        elif len(options) == 1:
            node = {**options[0], **node}
        else:
            raise ValueError(f"cannot express a union in a structural schema: {options}")
    node = {k: v for k, v in node.items() if k not in _DROP}
    if node.get("default", 0) is None or (not keep_defaults and "default" in node):
        node.pop("default")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    additional = node.get("additionalProperties")
    if additional is True or node.get("x-kubernetes-preserve-unknown-fields"):
        node.pop("additionalProperties", None)
        node["x-kubernetes-preserve-unknown-fields"] = True
        node.setdefault("type", "object")
    elif additional is False:
        node.pop("additionalProperties")
    for key in ("properties",):
        if key in node:
            node[key] = {
                name: _structural(sub, keep_defaults=keep_defaults)
                for name, sub in node[key].items()
            }
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = _structural(node[key], keep_defaults=keep_defaults)
    if node.get("required") == []:
        node.pop("required")
    return node


def openapi_schema(model: type[Model], *, keep_defaults: bool = True) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model."""
    raw = model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults
    )
    defs = raw.pop("$defs", {})
    for node in (raw, *defs.values()):
        if "description" in node:
            node["description"] = _plain(node["description"])
    resolved = _resolve(raw, defs)
    schema: dict[str, Any] = _structural(resolved, keep_defaults=keep_defaults)
    return schema


def custom_resource_definition(kind: ResourceKind) -> dict[str, Any]:
    """The whole CRD manifest for one kind."""
    spec = openapi_schema(kind.spec)
    # Status is written by Baton only; schema defaults there would just add noise.
    status = openapi_schema(kind.status, keep_defaults=False)
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": {
            **{
                name: {"type": "string", "description": text}
                for name, text in _OBJECT_FIELDS.items()
            },
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if kind.spec_required:
        root["required"] = ["spec"]
    else:
        spec["default"] = {}
    if kind.validations:
        root["x-kubernetes-validations"] = list(kind.validations)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "baton", "app.kubernetes.io/part-of": "baton"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_crd() for c in kind.printer_columns],
                    **(
                        {"selectableFields": [{"jsonPath": p} for p in kind.selectable_fields]}
                        if kind.selectable_fields
                        else {}
                    ),
                    "schema": {"openAPIV3Schema": to_jsonable_python(root)},
                }
            ],
        },
    }
