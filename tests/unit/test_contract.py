"""The run contract (``baton.contract``) agrees with the resource models and the CRDs, and
its encoders and decoders are inverses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from baton import contract
from baton.resources import GROUP, VERSION
from baton.resources.flowrun import STATE_TYPES, TERMINAL_STATES, RunState

pytestmark = pytest.mark.unit

CRDS = Path(__file__).resolve().parents[2] / "crds"


def test_the_state_names_are_the_models() -> None:
    assert {s.value for s in RunState} == contract.RUN_STATES
    assert {s.value for s in TERMINAL_STATES} == contract.TERMINAL_STATES
    assert contract.ACTIVE_STATES <= contract.RUN_STATES
    assert not contract.ACTIVE_STATES & contract.TERMINAL_STATES
    # The runtime's final Prefect types are the types of the terminal states.
    assert {STATE_TYPES[RunState(s)].value for s in contract.TERMINAL_STATES} == (
        contract.FINAL_STATE_TYPES
    )


def test_the_crds_carry_the_group_version_and_states() -> None:
    assert (GROUP, VERSION) == (contract.GROUP, contract.VERSION)
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        assert crd["spec"]["group"] == contract.GROUP, path.name
        assert [v["name"] for v in crd["spec"]["versions"]] == [contract.VERSION], path.name
    flowruns = yaml.safe_load((CRDS / f"flowruns.{contract.GROUP}.yaml").read_text())
    schema = flowruns["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert set(schema["properties"]["status"]["properties"]["state"]["enum"]) == (
        contract.RUN_STATES
    )


def test_times_round_trip_as_rfc3339_utc() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    text = contract.format_time(moment)
    assert text == "2026-03-01T10:30:05Z"
    assert contract.parse_time(text) == moment
    assert contract.parse_time("2026-03-01T10:30:05+00:00") == moment
    assert contract.parse_time(None) is None and contract.parse_time("") is None
    assert contract.parse_time(datetime(2026, 3, 1)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_owner_references_point_at_a_uid() -> None:
    assert contract.owner_reference("Deployment", "etl", "u-1") == {
        "apiVersion": contract.API_VERSION,
        "kind": "Deployment",
        "name": "etl",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    loose = contract.owner_reference("FlowRun", "r", "u-2", controller=False)
    assert "controller" not in loose and "blockOwnerDeletion" not in loose
    kept = contract.owner_reference("Deployment", "d", "u-3", block_owner_deletion=False)
    assert kept["controller"] is True and "blockOwnerDeletion" not in kept


def test_the_run_environment_round_trips() -> None:
    identity = contract.RunIdentity(
        name="r",
        namespace="ns",
        uid="u",
        entrypoint="flows/etl.py:etl",
        attempt=3,
        parameters={"a": [1, 2], "b": "x"},
        scheduled_time=datetime(2026, 3, 1, 11, tzinfo=UTC),
        source_sha256="abc",
        flow_name="etl",
        deployment_name="etl-daily",
    )
    env = contract.encode_run_environment(identity)
    assert env["BATON_SCHEDULED_TIME"] == "2026-03-01T11:00:00+00:00"
    assert contract.decode_run_environment(env) == identity
    bare = contract.RunIdentity("r", "ns", "", "m:f", 1, None, None)
    assert contract.decode_run_environment(contract.encode_run_environment(bare)) == bare


def test_parameters_too_large_for_the_environment_are_left_out() -> None:
    identity = contract.RunIdentity("r", "ns", "u", "m:f", 1, {"x": "y" * 100}, None)
    assert "BATON_PARAMETERS" in contract.encode_run_environment(identity, limit=200)
    assert "BATON_PARAMETERS" not in contract.encode_run_environment(identity, limit=50)
    decoded = contract.decode_run_environment(contract.encode_run_environment(identity, limit=50))
    assert decoded.parameters is None


def test_a_run_environment_without_its_identity_is_refused() -> None:
    with pytest.raises(contract.MissingEnvironment, match="BATON_ENTRYPOINT"):
        contract.decode_run_environment(
            {"BATON_FLOW_RUN_NAME": "r", "BATON_FLOW_RUN_NAMESPACE": "n"}
        )


def test_parameters_merge_key_by_key_later_wins() -> None:
    defaults = {"a": 1, "b": {"deep": 1}, "c": 3}
    merged = contract.merge_parameters(defaults, {"b": {"other": 2}}, None, {"c": 4})
    assert merged == {"a": 1, "b": {"other": 2}, "c": 4}
    assert defaults == {"a": 1, "b": {"deep": 1}, "c": 3}
    assert contract.merge_parameters(None) == {}


def test_label_values_fit_63_characters() -> None:
    assert contract.label_value("short") == "short"
    long = contract.label_value("x" * 100)
    assert len(long) <= 63 and long != contract.label_value("x" * 99)
    assert contract.selector({"a": "1", "b": "2"}) == "a=1,b=2"


PACKAGE = Path(contract.__file__).resolve().parent
#: Literal copies of a contract fact, which must not come back outside ``baton.contract``:
#: (what, a regular expression over the package's source).
COPIES = [
    ("the API group or version", r"""["']baton\.dev(/v1alpha1)?["']|["']v1alpha1["']"""),
    ("an owner reference", r"""["'](blockOwnerDeletion|controller)["']\s*:"""),
    ("the RFC 3339 format", r"%Y-%m-%dT%H:%M:%SZ"),
    (
        "a set of run states",
        r"""["'](Completed|COMPLETED)["'],\s*["'](Failed|FAILED)["']|RunState\.PENDING,\s*RunState""",
    ),
    ("a label or annotation", r"""["']baton\.dev/|["']app\.kubernetes\.io/managed-by["']"""),
    ("the run environment", r"""["']BATON_(FLOW_RUN_NAME|ENTRYPOINT|ATTEMPT|PARAMETERS)["']"""),
    ("a time parser", r"""replace\(["']Z["'], ["']\+00:00["']\)"""),
    ("the parameter merge", r"""\{\*\*[^,}]*(spec\.parameters|defaults)[^,}]*,\s*\*\*"""),
    ("a run reason", r"""["'](AwaitingWorker|JobCreated|CancelRequested)["']"""),
]


@pytest.mark.parametrize(("what", "pattern"), COPIES, ids=[what for what, _ in COPIES])
def test_no_copy_of_a_contract_fact(what: str, pattern: str) -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "contract.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert found == [], f"{what} is defined in baton.contract; import it from there"
