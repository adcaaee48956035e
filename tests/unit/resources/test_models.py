"""Resource models: round trips, the CRD generator, and the structural-schema rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.resources import KINDS, Deployment, FlowRun, WorkPool
from baton.resources.crd import custom_resource_definition
from baton.resources.generate import main as generate_main
from baton.resources.job_template import JobTemplate

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(walk(value, f"{path}[{i}]"))
    return found


def test_generated_files_are_up_to_date() -> None:
    assert generate_main(["--check", "--root", str(ROOT)]) == 0, "run `make crds`"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Any) -> None:
    schema = custom_resource_definition(kind)["spec"]["versions"][0]["schema"]
    for path, node in walk(schema["openAPIV3Schema"]):
        assert "$ref" not in node, path
        assert node.get("type") != "null", path
        assert "title" not in node or path.endswith(".properties"), path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), path
        if node.get("type") == "object" and path not in (".properties", ".properties.metadata"):
            assert (
                "properties" in node
                or "additionalProperties" in node
                or node.get("x-kubernetes-preserve-unknown-fields")
            ), path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_names_and_category(kind: Any) -> None:
    names = custom_resource_definition(kind)["spec"]["names"]
    assert names["categories"] == ["baton"]
    assert names["shortNames"]
    assert "deploy" not in names["shortNames"]  # apps/v1 owns it


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_examples_round_trip(example: Path) -> None:
    models = {"Deployment": Deployment, "FlowRun": FlowRun, "WorkPool": WorkPool}
    for document in yaml.safe_load_all(example.read_text()):
        model = models.get(document["kind"])
        if model is None:
            continue
        parsed = model.model_validate(document)
        again = model.model_validate(json.loads(parsed.model_dump_json(by_alias=True)))
        assert again == parsed
        for key, value in document["spec"].items():
            assert parsed.spec.to_wire()[key] is not None, key
            if not isinstance(value, list | dict):
                assert parsed.spec.to_wire()[key] == value


def test_spec_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="scheduels"):
        Deployment.model_validate({"spec": {"flowRef": {"name": "f"}, "scheduels": []}})


def test_job_template_overlay_merges_maps_and_replaces_lists() -> None:
    base = JobTemplate.model_validate(
        {
            "serviceAccountName": "runner",
            "labels": {"a": "1", "b": "1"},
            "env": [{"name": "A", "value": "1"}],
            "activeDeadlineSeconds": 60,
        }
    )
    override = JobTemplate.model_validate(
        {"labels": {"b": "2"}, "env": [{"name": "B", "value": "2"}]}
    )
    merged = base.overlay(override).to_wire()
    assert merged == {
        "serviceAccountName": "runner",
        "labels": {"a": "1", "b": "2"},
        "env": [{"name": "B", "value": "2"}],
        "activeDeadlineSeconds": 60,
    }
    assert base.overlay(None) is base
