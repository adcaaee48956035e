"""The generated CRD schemas follow what Kubernetes tooling expects of a schema.

* every field of every kind is described, in plain text, for ``kubectl explain``;
* conditions are validated like ``metav1.Condition`` (required fields, patterns, lengths);
* a FlowRun's fixed fields are guarded on the parent spec, by presence and value, with a
  ``reason`` and ``fieldPath`` (the API server's behaviour is tested in
  tests/integration/test_crds.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from baton.resources import KINDS
from baton.resources.crd import custom_resource_definition
from baton.resources.flowrun import FLOWRUN_KIND, IMMUTABLE_FIELDS

pytestmark = pytest.mark.unit

#: reStructuredText and Markdown that ``kubectl explain`` would print literally.
MARKUP = re.compile(r"`|\*\*|::|^\.\. |\n")


def schema_of(kind: Any) -> dict[str, Any]:
    root: dict[str, Any] = custom_resource_definition(kind)["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ]
    return root


def fields(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every field below ``node`` (properties, also inside list items and map values)."""
    found = []
    for name, child in node.get("properties", {}).items():
        found.append((f"{path}.{name}", child))
        found.extend(fields(child, f"{path}.{name}"))
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        child = node.get(key)
        if isinstance(child, dict) and "properties" in child:
            found.append((path + suffix, child))  # an object's description heads its fields
            found.extend(fields(child, path + suffix))
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_field_has_a_plain_text_description(kind: Any) -> None:
    missing, marked = [], []
    for path, node in [(kind.kind, schema_of(kind)), *fields(schema_of(kind), kind.kind)]:
        if path == f"{kind.kind}.metadata":
            continue  # ObjectMeta: the API server describes it, and refuses a schema that does
        text = node.get("description", "").strip()
        if not text:
            missing.append(path)
        elif MARKUP.search(text):
            marked.append(f"{path}: {text!r}")
    assert not missing, f"fields without a description: {missing}"
    assert not marked, f"descriptions with markup: {marked}"


def test_the_walk_reaches_nested_list_items() -> None:
    paths = {path for path, _ in fields(schema_of(FLOWRUN_KIND), "FlowRun")}
    for expected in (
        "FlowRun.spec",
        "FlowRun.status",
        "FlowRun.status.history[].state",
        "FlowRun.status.taskRuns.items[].name",
        "FlowRun.status.conditions[].reason",
    ):
        assert expected in paths


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_conditions_are_validated_like_metav1_condition(kind: Any) -> None:
    item = schema_of(kind)["properties"]["status"]["properties"]["conditions"]["items"]
    assert sorted(item["required"]) == sorted(
        ["type", "status", "reason", "message", "lastTransitionTime"]
    )
    props = item["properties"]
    # The values of k8s.io/apimachinery/pkg/apis/meta/v1.Condition's markers.
    assert props["type"]["maxLength"] == 316
    assert props["type"]["pattern"] == (
        r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
    )
    assert props["status"]["enum"] == ["True", "False", "Unknown"]
    assert props["reason"] | {"description": ""} == {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "pattern": r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        "description": "",
    }
    assert props["message"]["maxLength"] == 32768
    assert props["lastTransitionTime"]["format"] == "date-time"
    assert props["observedGeneration"]["minimum"] == 0


def test_fixed_flowrun_fields_are_guarded_on_the_parent() -> None:
    spec = schema_of(FLOWRUN_KIND)["properties"]["spec"]
    rules = {r.get("fieldPath"): r for r in spec["x-kubernetes-validations"]}
    for field in ("deploymentRef", "flowRef", "scheduledTime", "parameters"):
        assert field in IMMUTABLE_FIELDS
        rule = rules[f".{field}"]
        # Presence on both sides, then value: a rule on the field alone is skipped when
        # the old object lacks it.
        assert f"has(self.{field}) == has(oldSelf.{field})" in rule["rule"]
        assert f"self.{field} == oldSelf.{field}" in rule["rule"]
        assert rule["reason"] == "FieldValueInvalid"
        assert "oldSelf" not in str(spec["properties"][field].get("x-kubernetes-validations"))
