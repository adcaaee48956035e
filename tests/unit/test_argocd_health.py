"""Argo CD health checks against status fixtures, read the way Argo CD's own test reads them.

The checks are kept in Argo CD's upstream layout,
``argocd/resource_customizations/baton.dev/<Kind>/``: ``health.lua``, a
``health_test.yaml`` (``tests: - healthStatus: {status, message}, inputPath:
testdata/x.yaml``) and the objects in ``testdata/``. Like Argo CD's
``TestLuaHealthScript``, this module walks the tree for every ``health.lua``, reads the
``health_test.yaml`` beside it, loads each ``inputPath`` relative to that directory and
compares the script's ``{status, message}`` with the expected one. The scripts run in
the sandbox Argo CD gives them (tests/argocd_lua.py); they need ``lupa`` and fail
without it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from argocd_lua import CUSTOMIZATIONS, GROUP, ROOT, health, run_script, script
from baton.resources.flowrun import RunState

pytestmark = pytest.mark.unit

KINDS = ("Automation", "Deployment", "Flow", "FlowRun", "WorkPool")
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def expectations(kind: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(
        (CUSTOMIZATIONS / GROUP / kind / "health_test.yaml").read_text()
    )["tests"]
    return tests


def load(kind: str, input_path: str) -> dict[str, Any]:
    """The object at ``input_path``, relative to the kind's directory (as upstream)."""
    obj: dict[str, Any] = yaml.safe_load((CUSTOMIZATIONS / GROUP / kind / input_path).read_text())
    return obj


def upstream_cases() -> list[Any]:
    """Every (health.lua, test) pair, found as Argo CD's TestLuaHealthScript finds them:
    each health.lua under resource_customizations/, and the health_test.yaml beside it."""
    cases = []
    for lua in sorted(CUSTOMIZATIONS.rglob("health.lua")):
        directory = lua.parent
        tests = yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]
        for test in tests:
            name = f"{directory.relative_to(CUSTOMIZATIONS)}/{test['inputPath']}"
            cases.append(pytest.param(lua, test, id=name))
    return cases


@pytest.mark.parametrize(("lua", "test"), upstream_cases())
def test_health_test_yaml(lua: Path, test: dict[str, Any]) -> None:
    obj = yaml.safe_load((lua.parent / test["inputPath"]).read_text())
    status, message = run_script(lua, obj)
    assert {"status": status, "message": message} == test["healthStatus"]


def test_the_tree_is_argo_cds_layout() -> None:
    """resource_customizations/<group>/<Kind>/ holds exactly health.lua,
    health_test.yaml and testdata/ (of .yaml objects), for each of the CRDs' kinds."""
    crd_kinds = {
        yaml.safe_load(p.read_text())["spec"]["names"]["kind"]
        for p in (ROOT / "crds").glob("*.yaml")
    }
    assert crd_kinds == set(KINDS)
    assert [p.name for p in CUSTOMIZATIONS.iterdir()] == [GROUP]
    assert {p.name for p in (CUSTOMIZATIONS / GROUP).iterdir()} == set(KINDS)
    for kind in KINDS:
        directory = CUSTOMIZATIONS / GROUP / kind
        assert {p.name for p in directory.iterdir()} == {
            "health.lua",
            "health_test.yaml",
            "testdata",
        }, kind
        assert all(p.suffix == ".yaml" for p in (directory / "testdata").iterdir()), kind
    assert len(upstream_cases()) == sum(len(expectations(k)) for k in KINDS) >= 38


@pytest.mark.parametrize("kind", KINDS)
def test_fixtures_and_expectations_match_one_to_one(kind: str) -> None:
    listed = [c["inputPath"] for c in expectations(kind)]
    present = sorted(
        f"testdata/{p.name}" for p in (CUSTOMIZATIONS / GROUP / kind / "testdata").iterdir()
    )
    assert sorted(listed) == present
    assert len(set(listed)) == len(listed)
    for case in expectations(kind):
        assert case["healthStatus"]["status"] in STATUSES
        # File names say what they test: <expected status>_<situation>.yaml.
        name = case["inputPath"].removeprefix("testdata/")
        assert name.split("_")[0] == case["healthStatus"]["status"].lower()


@pytest.mark.parametrize("kind", KINDS)
def test_every_status_a_script_can_return_is_tested(kind: str) -> None:
    source = script(kind).read_text()
    returned = set(re.findall(r'hs\.status = "(\w+)"', source))
    tested = {c["healthStatus"]["status"] for c in expectations(kind)}
    assert returned <= STATUSES
    assert returned == tested


def test_every_flow_run_state_has_a_known_health() -> None:
    """The state model (resources/flowrun.py) and FlowRun.lua stay in step."""
    covered = {
        load("FlowRun", c["inputPath"]).get("status", {}).get("state")
        for c in expectations("FlowRun")
    }
    assert {s.value for s in RunState} <= covered
    for state in RunState:
        obj = {"metadata": {"generation": 1}, "status": {"state": state.value}}
        assert health("FlowRun", obj)[0] != "Unknown", state


@pytest.mark.parametrize("kind", KINDS)
def test_fixtures_are_valid_objects_of_their_crd(kind: str) -> None:
    """Fixtures look like what the API server stores (except the deliberately unknown)."""
    crd = next(
        yaml.safe_load(p.read_text())
        for p in (ROOT / "crds").glob("*.yaml")
        if yaml.safe_load(p.read_text())["spec"]["names"]["kind"] == kind
    )
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for case in expectations(kind):
        if case["healthStatus"]["status"] == "Unknown":
            continue
        obj = load(kind, case["inputPath"])
        body = {k: v for k, v in obj.items() if k in ("spec", "status")}
        sub = {**schema, "required": [], "properties": {k: schema["properties"][k] for k in body}}
        jsonschema.Draft7Validator(sub).validate(body)


def test_scripts_use_only_what_argo_cd_offers() -> None:
    for path in CUSTOMIZATIONS.rglob("*.lua"):
        code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
        for forbidden in ("string.", "math.", "io.", "require", ":format(", ":sub(", "//"):
            assert forbidden not in code, f"{path} uses {forbidden!r}"


def test_argocd_cm_snippet_is_generated_from_the_scripts() -> None:
    spec = importlib.util.spec_from_file_location("argocd_cm", ROOT / "hack" / "argocd_cm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "argocd" / "argocd-cm.yaml").read_text()
    assert committed == module.render(), "argocd/argocd-cm.yaml is stale: run hack/argocd_cm.py"
    data = yaml.safe_load(committed)["data"]
    assert data == {
        f"resource.customizations.health.baton.dev_{k}": script(k).read_text() for k in KINDS
    }


def test_a_script_without_lupa_would_fail_not_skip() -> None:
    """Guard: the suite must never silently skip these checks."""
    source = (ROOT / "tests" / "argocd_lua.py").read_text()
    assert "pytest.fail(" in source and "pytest.skip" not in source and "importorskip" not in source
