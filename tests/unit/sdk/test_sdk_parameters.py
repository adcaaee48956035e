"""Flow parameters: JSON Schema in Prefect's shape, pydantic validation and coercion."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import Any, Literal

import pydantic
import pytest
from sdk_testkit import RecordingObserver

from baton import flow, task
from baton._engine.flow_engine import run_flow
from baton.exceptions import ParameterTypeError, SignatureMismatchError
from baton.parameters import needs_validation, parameter_schema, validate_parameters

pytestmark = pytest.mark.unit


class Point(pydantic.BaseModel):
    x: int
    y: int = 0


def etl(
    budget: int,
    region: Literal["eu", "us"] = "eu",
    when: date | None = None,
    point: Point | None = None,
    json: str = "shadows a BaseModel attribute",
) -> None:
    """Load things.

    Args:
        budget: How much we may spend,
            in euros.
        region: Where to run.
    """


def test_schema_has_prefect_shape() -> None:
    schema = parameter_schema(etl)
    assert schema["title"] == "Parameters" and schema["type"] == "object"
    assert schema["required"] == ["budget"]
    assert list(schema["properties"]) == ["budget", "region", "when", "point", "json"]
    assert schema["properties"]["budget"] == {
        "title": "budget",
        "type": "integer",
        "position": 0,
        "description": "How much we may spend, in euros.",
    }
    region = schema["properties"]["region"]
    assert region["enum"] == ["eu", "us"] and region["default"] == "eu"
    assert region["description"] == "Where to run."
    assert "Point" in schema["definitions"]
    assert schema["properties"]["point"]["anyOf"][0] == {"$ref": "#/definitions/Point"}
    json.dumps(schema)  # must be serialisable as is


def test_schema_tolerates_untyped_and_arbitrary_types() -> None:
    class Opaque:
        pass

    def f(a, b: Opaque, *args: int, c: object = Opaque(), **kwargs: str):  # type: ignore[no-untyped-def]
        pass

    schema = parameter_schema(f)
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["b"] == {"title": "b", "position": 1}
    assert schema["properties"]["args"]["type"] == "array"
    assert "required" not in parameter_schema(lambda x=1: x)


def test_validate_coerces_like_prefect() -> None:
    out = validate_parameters(etl, {"budget": "3", "when": "2026-01-02", "point": {"x": "1"}})
    assert out["budget"] == 3
    assert out["when"] == date(2026, 1, 2)
    assert out["point"] == Point(x=1)
    assert "region" not in out  # defaults are left to the function


def test_validate_names_each_bad_field() -> None:
    with pytest.raises(ParameterTypeError) as info:
        validate_parameters(etl, {"budget": "lots", "region": "mars"})
    message = str(info.value)
    assert message.startswith("Flow run received invalid parameters:")
    assert "\n - budget: Input should be a valid integer" in message
    assert "\n - region: Input should be 'eu' or 'us'" in message


def test_unresolvable_annotation_does_not_disable_the_others() -> None:
    class Local:  # a local class: its string annotation cannot be resolved later
        pass

    def f(n: int, thing: Local | None = None) -> None:
        pass

    assert validate_parameters(f, {"n": "4"}) == {"n": 4}


def test_validate_rejects_unknown_names() -> None:
    with pytest.raises(SignatureMismatchError, match="budgett"):
        validate_parameters(etl, {"budgett": 1})


def test_flow_call_coerces_before_the_body_runs() -> None:
    @flow
    def doubled(x: int) -> int:
        return x * 2

    assert doubled("21") == 42  # type: ignore[arg-type]


def test_invalid_parameters_fail_the_run_and_no_task_runs(
    observer: RecordingObserver,
) -> None:
    ran: list[int] = []

    @task
    def side_effect() -> None:
        ran.append(1)

    @flow
    def needs_int(x: int) -> None:
        side_effect()

    state = run_flow(needs_int, {"x": "not a number"}, observer=observer)
    assert state.is_failed()
    assert state.message is not None
    assert state.message.startswith("Validation of flow parameters failed with error:")
    assert "x: Input should be a valid integer" in state.message
    assert ran == [] and observer.task_states == []
    with pytest.raises(ParameterTypeError):
        state.result()


def test_missing_parameter_fails_with_field_name() -> None:
    @flow
    def needs_int(x: int) -> int:
        return x

    state = run_flow(needs_int, {})
    assert state.is_failed() and "x: Field required" in (state.message or "")


def test_defaults_are_not_validated_but_given_values_are() -> None:
    @flow
    def lenient(limit: int = None, n: int = 1) -> tuple[Any, int]:  # type: ignore[assignment]  # noqa: RUF013 - the pattern under test
        return limit, n

    assert lenient(n="2") == (None, 2)  # type: ignore[arg-type]
    assert lenient(limit="5") == (5, 1)  # type: ignore[arg-type]


def test_validation_can_be_turned_off() -> None:
    @flow(validate_parameters=False)
    def raw(x: int) -> Any:
        return x

    assert raw("21") == "21"  # type: ignore[arg-type]


def test_fast_path_skips_pydantic_for_exact_simple_types() -> None:
    assert not needs_validation(etl, {"budget": 3, "json": "x"})
    assert needs_validation(etl, {"budget": 3, "region": "eu"})  # Literal is not simple
    assert needs_validation(etl, {"budget": "3"})
    assert needs_validation(etl, {"budget": True})  # bool is not int for pydantic either
    assert needs_validation(etl, {"unknown": 1})


def test_simple_flow_run_does_not_import_pydantic() -> None:
    code = (
        "import sys\n"
        "from baton import flow, task\n"
        "@task\ndef t(x: int) -> int:\n    return x + 1\n"
        "@flow\ndef f(x: int = 1) -> int:\n    return t(x)\n"
        "assert f(2) == 3\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'kubernetes', 'kopf', 'httpx', 'croniter', 'yaml')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_flow_parameters_property_is_the_schema() -> None:
    @flow
    def f(n: int = 5) -> None:
        pass

    assert f.parameters["properties"]["n"]["default"] == 5
