"""Parameter checks with bounded work (``baton.schema_validation``, docs/security.md).

Each test names the mechanism it guards; reverting that mechanism (Python's ``re`` for
patterns, jsonschema's pairwise ``uniqueItems``, no step budget, no size cap) fails it.
"""

from __future__ import annotations

import string
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.schema_validation import (
    MAX_PARAMETERS_BYTES,
    MAX_SCHEMA_BYTES,
    MAX_SECONDS,
    check_parameter_schema,
    parameter_problems,
)

pytestmark = pytest.mark.unit

#: Far above what a bounded check takes (~50 ms), far below what backtracking takes here.
BOUND = 0.5
EVIL = "^(a+)+$"
EVIL_INPUT = "a" * 30 + "!"  # Python's re: about 2**30 steps


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": 5}, "type: 5 is not valid under any of the given schemas"),
        ({"properties": {"x": {"pattern": "("}}}, "properties.x.pattern: '(' is not a 'regex'"),
        ({"pattern": "(?=a)b"}, "pattern: '(?=a)b' is not a 'regex'"),  # look-ahead: not RE2
        ({"pattern": "(a)\\1"}, "is not a 'regex'"),  # a back-reference
        ({"patternProperties": {"(": {}}}, "patternProperties: '(' is not a 'regex'"),
        ({"required": "x"}, "required: 'x' is not of type 'array'"),
    ],
)
def test_invalid_schemas_are_named(schema: dict[str, Any], message: str) -> None:
    verdict = check_parameter_schema(schema)
    assert verdict is not None
    assert verdict.startswith("invalid parameterSchema: ")
    assert message in verdict


def test_valid_schemas_pass() -> None:
    assert check_parameter_schema({}) is None
    generated = {
        "title": "Parameters",
        "type": "object",
        "properties": {"n": {"type": "integer", "title": "n", "position": 0, "default": 3}},
        "definitions": {},
    }
    assert check_parameter_schema(generated) is None
    assert check_parameter_schema({"properties": {"x": {"pattern": EVIL}}}) is None


def test_a_huge_schema_is_refused_by_size() -> None:
    schema = {"properties": {f"p{i}": {"type": "string"} for i in range(MAX_SCHEMA_BYTES // 20)}}
    verdict = check_parameter_schema(schema)
    assert verdict is not None
    assert f"at most {MAX_SCHEMA_BYTES} allowed" in verdict


@pytest.mark.parametrize(
    ("schema", "parameters", "invalid"),
    [
        ({"properties": {"x": {"pattern": EVIL}}}, {"x": EVIL_INPUT}, True),
        ({"patternProperties": {EVIL: {"type": "string"}}}, {EVIL_INPUT: 1}, False),
        ({"patternProperties": {EVIL: {}}, "additionalProperties": False}, {EVIL_INPUT: 1}, True),
        ({"patternProperties": {EVIL: {}}, "unevaluatedProperties": False}, {EVIL_INPUT: 1}, True),
    ],
)
def test_catastrophic_patterns_run_in_linear_time(
    schema: dict[str, Any], parameters: dict[str, Any], invalid: bool
) -> None:
    verdict, seconds = timed(parameter_problems, schema, parameters)
    assert (verdict is not None) == invalid, verdict
    assert verdict is None or verdict.startswith("invalid parameters"), verdict
    assert seconds < BOUND


def test_long_text_against_a_pattern_is_linear() -> None:
    schema = {"properties": {"x": {"pattern": EVIL}}}
    verdict, seconds = timed(parameter_problems, schema, {"x": "a" * 200_000 + "!"})
    assert verdict is not None and "does not match" in verdict
    assert seconds < BOUND


def test_exponential_ref_fan_out_runs_out_of_steps() -> None:
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(40)
    }
    defs["d40"] = {"type": "object"}
    bomb = {"$defs": defs, "$ref": "#/$defs/d0"}
    assert check_parameter_schema(bomb) is None  # valid JSON Schema, 2**40 evaluations
    verdict, seconds = timed(parameter_problems, bomb, {})
    assert verdict is not None and "too costly to evaluate" in verdict
    assert seconds < BOUND


def test_unique_items_is_linear_with_jsonschema_equality() -> None:
    schema = {"properties": {"l": {"type": "array", "uniqueItems": True}}}
    items = [{"a": i} for i in range(20_000)]
    verdict, seconds = timed(parameter_problems, schema, {"l": items})
    assert verdict is None
    assert seconds < BOUND
    assert parameter_problems(schema, {"l": [1, 1.0]}) is not None  # equal numbers
    assert parameter_problems(schema, {"l": [True, 1]}) is None  # a bool is not a number
    assert parameter_problems(schema, {"l": [{"a": [1]}, {"a": [1.0]}]}) is not None


def test_recursive_refs_and_remote_refs_are_verdicts_not_exceptions() -> None:
    assert "recursive" in (parameter_problems({"$ref": "#"}, {}) or "")
    remote = parameter_problems({"$ref": "http://127.0.0.1:9/schema.json"}, {})
    assert remote is not None and "Unresolvable" in remote


def test_huge_parameters_are_refused_by_size() -> None:
    verdict = parameter_problems({"type": "object"}, {"x": "y" * MAX_PARAMETERS_BYTES})
    assert verdict is not None and f"at most {MAX_PARAMETERS_BYTES} allowed" in verdict


def test_invalid_schema_gets_a_verdict_when_parameters_are_checked() -> None:
    verdict = parameter_problems({"type": 5}, {"x": 1})
    assert verdict is not None  # never an exception out of an admission pass


# -- property: any schema, any parameters, a verdict in bounded time ---------------------
_regexes = st.one_of(
    st.sampled_from([EVIL, "(", "(?=a)", "a{2,}", "^[a-z]+$", "(a|aa)+$", "\\d+", "(x+x+)+y"]),
    st.text(alphabet="ab()+*?|[]^$\\{},.", max_size=12),
)
_leaf_schemas = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "object", 5, None])}),
    st.fixed_dictionaries({"pattern": _regexes}),
    st.fixed_dictionaries({"patternProperties": st.dictionaries(_regexes, st.just({}))}),
    st.fixed_dictionaries({"uniqueItems": st.booleans()}),
    st.fixed_dictionaries({"$ref": st.sampled_from(["#", "#/$defs/a", "#/nope", "x:y"])}),
    st.fixed_dictionaries({"minLength": st.integers(-1, 5)}),
)
_schemas = st.recursive(
    _leaf_schemas,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"allOf": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"anyOf": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"properties": st.dictionaries(st.sampled_from("xyz"), inner)}),
        st.fixed_dictionaries({"items": inner, "$defs": st.fixed_dictionaries({"a": inner})}),
        st.fixed_dictionaries(
            {"additionalProperties": st.booleans(), "unevaluatedProperties": inner}
        ),
    ),
    max_leaves=12,
)
_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(alphabet="ab!x", max_size=40),
        st.just(EVIL_INPUT),
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=string.ascii_lowercase + "!", max_size=30), children)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_schemas, parameters=st.dictionaries(st.sampled_from("xyzab"), _values))
def test_any_schema_and_parameters_get_a_verdict_in_bounded_time(
    schema: dict[str, Any], parameters: dict[str, Any]
) -> None:
    start = time.perf_counter()
    schema_verdict = check_parameter_schema(schema)
    parameters_verdict = parameter_problems(schema, parameters)
    elapsed = time.perf_counter() - start
    assert schema_verdict is None or isinstance(schema_verdict, str)
    assert parameters_verdict is None or isinstance(parameters_verdict, str)
    # Two checks, each at most MAX_SECONDS by its deadline, plus slack for a loaded machine.
    assert elapsed < 2 * MAX_SECONDS + 0.5, (elapsed, schema, parameters)
