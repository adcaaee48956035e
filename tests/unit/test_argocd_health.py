"""Argo CD health checks (argocd/health/<Kind>.lua) against status fixtures.

Each ``argocd/testdata/<Kind>/health_test.yaml`` lists fixtures (whole objects beside
it) and the health Argo CD must show for them, in the layout of Argo CD's own
``resource_customizations/*/*/health_test.yaml``. The scripts run in the sandbox Argo
CD gives them (tests/argocd_lua.py); they need ``lupa`` and fail without it.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import jsonschema
import pytest
import yaml

from argocd_lua import HEALTH, ROOT, health
from baton.resources.flowrun import RunState

pytestmark = pytest.mark.unit

TESTDATA = ROOT / "argocd" / "testdata"
KINDS = ("Automation", "Deployment", "Flow", "FlowRun", "WorkPool")
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def expectations(kind: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(
        (TESTDATA / kind / "health_test.yaml").read_text()
    )["tests"]
    return tests


def load(kind: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((TESTDATA / kind / name).read_text())
    return obj


CASES = [
    pytest.param(kind, case, id=f"{kind}/{case['inputPath'].removesuffix('.yaml')}")
    for kind in KINDS
    for case in expectations(kind)
]


@pytest.mark.parametrize(("kind", "case"), CASES)
def test_fixture_health(kind: str, case: dict[str, Any]) -> None:
    status, message = health(kind, load(kind, case["inputPath"]))
    assert (status, message) == (case["healthStatus"]["status"], case["healthStatus"]["message"])


def test_every_kind_has_a_script_and_fixtures() -> None:
    crd_kinds = {
        yaml.safe_load(p.read_text())["spec"]["names"]["kind"]
        for p in (ROOT / "crds").glob("*.yaml")
    }
    assert crd_kinds == set(KINDS)
    assert {p.stem for p in HEALTH.glob("*.lua")} == set(KINDS)
    assert {p.name for p in TESTDATA.iterdir()} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_fixtures_and_expectations_match_one_to_one(kind: str) -> None:
    listed = [c["inputPath"] for c in expectations(kind)]
    present = sorted(
        p.name for p in (TESTDATA / kind).glob("*.yaml") if p.name != "health_test.yaml"
    )
    assert sorted(listed) == present
    assert len(set(listed)) == len(listed)
    for case in expectations(kind):
        assert case["healthStatus"]["status"] in STATUSES
        # File names say what they test: <expected status>_<situation>.yaml.
        assert case["inputPath"].split("_")[0] == case["healthStatus"]["status"].lower()


@pytest.mark.parametrize("kind", KINDS)
def test_every_status_a_script_can_return_is_tested(kind: str) -> None:
    source = (HEALTH / f"{kind}.lua").read_text()
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
    for path in HEALTH.glob("*.lua"):
        code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
        for forbidden in ("string.", "math.", "io.", "require", ":format(", ":sub(", "//"):
            assert forbidden not in code, f"{path.name} uses {forbidden!r}"


def test_argocd_cm_snippet_is_generated_from_the_scripts() -> None:
    spec = importlib.util.spec_from_file_location("argocd_cm", ROOT / "hack" / "argocd_cm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "argocd" / "argocd-cm.yaml").read_text()
    assert committed == module.render(), "argocd/argocd-cm.yaml is stale: run hack/argocd_cm.py"
    data = yaml.safe_load(committed)["data"]
    assert data == {
        f"resource.customizations.health.baton.dev_{k}": (HEALTH / f"{k}.lua").read_text()
        for k in KINDS
    }


def test_a_script_without_lupa_would_fail_not_skip() -> None:
    """Guard: the suite must never silently skip these checks."""
    source = (ROOT / "tests" / "argocd_lua.py").read_text()
    assert "pytest.fail(" in source and "pytest.skip" not in source and "importorskip" not in source
