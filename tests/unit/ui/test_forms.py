"""The Custom Run form: fields from a parameterSchema, typed parameters from a post."""

from __future__ import annotations

from typing import Any

import pytest

from baton.parameters import parameter_schema
from baton.schema_validation import parameter_errors, parameter_problems
from baton.ui import forms

pytestmark = pytest.mark.unit


def weather(city: str, days: int = 3, unit: str = "C", tags: list[str] | None = None) -> None:
    """Forecast.

    Args:
        city: Where.
    """


SCHEMA = parameter_schema(weather)


def reordered(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as the API server may return it: object keys in another order."""
    props = schema["properties"]
    return {**schema, "properties": {k: props[k] for k in sorted(props, reverse=True)}}


def test_fields_follow_the_signature_types_and_defaults() -> None:
    fields = forms.fields(reordered(SCHEMA), {"days": 5})
    assert [f.name for f in fields] == ["city", "days", "unit", "tags"]
    city, days, unit, tags = fields
    assert (city.widget, city.required, city.description) == ("text", True, "Where.")
    assert (days.widget, days.value, days.required) == ("number", "5", False)
    assert (unit.widget, unit.value) == ("text", "C")
    assert tags.widget == "json"


def test_enums_and_booleans_are_selects() -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"enum": ["C", "F"], "type": "string", "default": "C"},
            "dry": {"type": "boolean"},
        },
    }
    unit, dry = forms.fields(schema, {})
    assert (unit.widget, unit.choices, unit.value) == ("select", ("C", "F"), "C")
    assert (dry.widget, dry.choices, dry.value) == ("select", ("true", "false"), "")


def test_submission_types_values_and_leaves_bad_ones_to_the_validator() -> None:
    fields = forms.fields(SCHEMA, {})
    posted = forms.submission(
        fields, {"param.city": " Porto", "param.days": "many", "param.tags": '["a"]'}
    )
    assert posted.parameters == {"city": " Porto", "days": "many", "tags": ["a"]}
    assert parameter_errors(SCHEMA, posted.parameters) == [
        ("days", "'many' is not of type 'integer'")
    ]
    good = forms.submission(fields, {"param.city": "Porto", "param.days": " 2 ", "param.unit": ""})
    assert good.parameters == {"city": "Porto", "days": 2}
    assert parameter_errors(SCHEMA, good.parameters) == []


def test_the_operator_message_is_built_from_the_same_errors() -> None:
    message = parameter_problems(SCHEMA, {"days": "x"})
    assert message == (
        "invalid parameters: parameters: 'city' is a required property; "
        "days: 'x' is not of type 'integer'"
    )
    assert parameter_problems({}, {"anything": 1}) is None
    assert parameter_errors({}, {"anything": 1}) == []
    # The form shows what the operator would say, including when a check is too costly.
    costly = {"type": "object", "properties": {"s": {"type": "string"}}}
    assert parameter_errors(costly, {"s": "x" * (2 * 1024 * 1024)})[0][0] == "parameters"
