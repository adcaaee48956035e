"""Parameters checked against a Flow's ``parameterSchema`` with work bounded up front.

A schema and the parameters checked against it are written by tenants, and the operator
checks them on its one event loop, so the cost of a check must not depend on what they
wrote (docs/security.md, "Bounded work"). jsonschema alone gives no such bound:

- ``pattern`` and ``patternProperties`` run Python's backtracking ``re``: ``^(a+)+$``
  against 24 ``a``s and a ``!`` takes seconds, doubling with each character. Here every
  regular expression is RE2's (``google-re2``): matching is linear in the text, patterns
  that need backtracking (look-around, back-references) are refused when the schema is
  checked, and the text is bounded by the size cap below.
- ``uniqueItems`` compares items pairwise (quadratic) when they are objects; here items
  are hashed, so it is linear.
- ``allOf``/``anyOf`` over ``$ref``s can fan out exponentially in a schema of a few
  hundred bytes. Every keyword evaluation spends one step of a budget
  (``MAX_STEPS``), and a wall-clock deadline (``MAX_SECONDS``) backs it up; a check
  that runs out is a verdict (too costly), not a hang.
- Sizes are capped: the schema at ``MAX_SCHEMA_BYTES``, the parameters at
  ``MAX_PARAMETERS_BYTES`` (as compact JSON).

The SDK (``baton deploy``) and the operator call the same two functions, so a schema or a
parameter set gets the same verdict on a laptop and in the cluster. Neither raises for
bad input: each returns a message, or ``None`` when all is well.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jsonschema
import jsonschema.validators
import re2
from jsonschema import ValidationError

__all__ = [
    "MAX_PARAMETERS_BYTES",
    "MAX_SCHEMA_BYTES",
    "MAX_SECONDS",
    "MAX_STEPS",
    "check_parameter_schema",
    "parameter_errors",
    "parameter_problems",
]

#: Largest ``parameterSchema``, as compact JSON (generated schemas are a few KiB).
MAX_SCHEMA_BYTES: Final = 64 * 1024
#: Largest parameter set of one run, as compact JSON (etcd's own limit is about 1.5 MiB).
MAX_PARAMETERS_BYTES: Final = 1024 * 1024
#: Keyword evaluations one check may make (a generated schema needs tens per parameter).
MAX_STEPS: Final = 5_000
#: Wall-clock backstop for one check, whatever the step count says.
MAX_SECONDS: Final = 0.25

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every rejected pattern on stderr


class _TooCostly(Exception):
    pass


@dataclass
class _Budget:
    steps: int
    deadline: float


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "baton_schema_budget", default=None
)


def _spend() -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps -= 1
    if budget.steps < 0:
        raise _TooCostly(f"more than {MAX_STEPS} schema keyword evaluations")
    if budget.steps % 64 == 0 and time.monotonic() > budget.deadline:
        raise _TooCostly(f"more than {MAX_SECONDS} s")


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> Any:
    """RE2's compiled ``pattern``; raises ``re2.error`` for what RE2 cannot run linearly."""
    return re2.compile(pattern, options=_OPTIONS)


def _search(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _is_regex(value: object) -> bool:
    if isinstance(value, str):
        _regex(value)
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("regex", raises=re2.error)(_is_regex)

Keyword = Callable[[Any, Any, Any, Mapping[str, Any]], Iterable[ValidationError] | None]


def _counted(keyword: Keyword) -> Keyword:
    def counted(
        validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        _spend()
        errors = keyword(validator, value, instance, schema)
        if errors is not None:
            yield from errors

    return counted


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{_shown(instance)} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            _spend()
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> Iterator[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key not in properties and not any(_search(p, key) for p in patterns):
            yield key


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = sorted(_additional(instance, schema))
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        shown = ", ".join(repr(extra) for extra in extras[:20])
        yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")


def _evaluated_keys(validator: Any, instance: Mapping[str, Any], schema: Any) -> set[str]:
    """The keys of ``instance`` that ``schema`` evaluates (for ``unevaluatedProperties``).

    jsonschema's own version (``_utils.find_evaluated_property_keys_by_schema``) matches
    ``patternProperties`` with Python's ``re``; this one uses RE2 and spends the budget.
    """
    _spend()
    if not isinstance(schema, Mapping):
        return set()
    keys: set[str] = set()
    for keyword in ("$ref", "$dynamicRef"):
        if (ref := schema.get(keyword)) is not None:
            resolved = validator._resolver.lookup(ref)
            keys |= _evaluated_keys(
                validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                instance,
                resolved.contents,
            )
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        keys |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys |= {
                key
                for key, value in instance.items()
                if next(validator.descend(value, subschema), None) is None
            }
    for pattern in schema.get("patternProperties", {}):
        keys |= {key for key in instance if _search(pattern, key)}
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys |= _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if next(validator.descend(instance, subschema), None) is None:
                keys |= _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys |= _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys |= _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(
    validator: Any, allowed: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    bad = sorted(
        key
        for key in instance
        if key not in evaluated and next(validator.descend(instance[key], allowed), None)
    )
    if bad:
        shown = ", ".join(repr(key) for key in bad[:20])
        yield ValidationError(f"Unevaluated properties are not allowed ({shown} unexpected)")


def _hashed(items: list[Any]) -> Iterator[object]:
    for index, item in enumerate(items):
        if index % 8 == 0:
            _spend()  # hashing is linear, but not free: 5,000 steps hash 40,000 items
        yield _hashable(item)


def _hashable(value: Any) -> object:
    """A key equal for JSON-equal values (``1 == 1.0``, ``True != 1``), as jsonschema's."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list):
        return ("list", tuple(_hashable(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _hashable(v)) for k, v in value.items()))
    return ("scalar", value)


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if (
        unique
        and validator.is_type(instance, "array")
        and len(set(_hashed(instance))) != len(instance)
    ):
        yield ValidationError(f"{_shown(instance)} has non-unique elements")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_BASE = jsonschema.Draft202012Validator
_OWN: dict[str, Keyword] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
    "uniqueItems": _unique_items,
}
BoundedValidator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    _BASE,
    validators={
        name: _counted(_OWN.get(name) or keyword) for name, keyword in _BASE.VALIDATORS.items()
    },
)


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _bounded(check: Callable[[], str | None]) -> str | None:
    token = _BUDGET.set(_Budget(MAX_STEPS, time.monotonic() + MAX_SECONDS))
    try:
        return check()
    except _TooCostly as exc:
        return f"too costly to evaluate ({exc})"
    except RecursionError:
        return "too deeply nested or recursive to evaluate"
    except Exception as exc:  # an unresolvable $ref, a type jsonschema cannot handle...
        return f"cannot be evaluated: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        _BUDGET.reset(token)


def _listed(errors: Iterable[ValidationError], limit: int) -> list[str]:
    ordered = sorted(errors, key=lambda e: [str(p) for p in e.path])
    return [f"{'.'.join(map(str, e.path)) or 'parameters'}: {e.message}" for e in ordered[:limit]]


def check_parameter_schema(schema: Mapping[str, Any]) -> str | None:
    """What is wrong with ``schema`` as a ``parameterSchema``, or ``None`` if it is usable.

    The schema must be valid JSON Schema 2020-12 (its meta-schema), at most
    ``MAX_SCHEMA_BYTES``, and every ``pattern``/``patternProperties`` key must compile in
    RE2. An empty schema is valid: it checks nothing.
    """
    if not schema:
        return None
    try:
        size = _size(schema)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"parameterSchema is not JSON: {exc}"
    if size > MAX_SCHEMA_BYTES:
        return f"parameterSchema is {size} bytes; at most {MAX_SCHEMA_BYTES} allowed"

    def check() -> str | None:
        meta = BoundedValidator(_BASE.META_SCHEMA, format_checker=_FORMATS)
        problems = _listed(meta.iter_errors(dict(schema)), 3)
        if not problems:
            return None
        return "invalid parameterSchema: " + "; ".join(problems).replace("parameters: ", "", 1)

    verdict = _bounded(check)
    if verdict is not None and not verdict.startswith("invalid parameterSchema"):
        return f"parameterSchema {verdict}"
    return verdict


def _checked(
    schema: Mapping[str, Any], parameters: Mapping[str, Any]
) -> tuple[str | None, list[tuple[str, str]]]:
    """``(verdict on the whole set, [(field, message)...])`` under the bounds above.

    The verdict (not JSON, too large, too costly to evaluate) excludes the list; ``field``
    is the dotted path of the offending value, or ``"parameters"`` for the whole set.
    """
    try:
        size = _size(parameters)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"parameters are not JSON: {exc}", []
    if size > MAX_PARAMETERS_BYTES:
        return f"parameters are {size} bytes; at most {MAX_PARAMETERS_BYTES} allowed", []
    errors: list[tuple[str, str]] = []

    def check() -> str | None:
        ordered = sorted(
            BoundedValidator(dict(schema)).iter_errors(dict(parameters)),
            key=lambda e: [str(p) for p in e.path],
        )
        errors.extend((".".join(map(str, e.path)) or "parameters", e.message) for e in ordered)
        return None

    verdict = _bounded(check)
    return (f"parameters {verdict}" if verdict is not None else None), errors


def parameter_problems(
    schema: Mapping[str, Any], parameters: Mapping[str, Any], *, limit: int = 5
) -> str | None:
    """Why ``parameters`` do not match ``schema`` (up to ``limit`` problems), or ``None``.

    Assumes ``check_parameter_schema(schema)`` passed; a schema that did not still gets a
    verdict here, never an exception.
    """
    if not schema:
        return None
    verdict, errors = _checked(schema, parameters)
    if verdict is not None:
        return verdict
    if not errors:
        return None
    return "invalid parameters: " + "; ".join(f"{f}: {m}" for f, m in errors[:limit])


def parameter_errors(
    schema: Mapping[str, Any], parameters: Mapping[str, Any], *, limit: int = 20
) -> list[tuple[str, str]]:
    """``(field, message)`` per problem, for a form (the UI's Custom Run), same bounds.

    Empty exactly when ``parameter_problems`` says ``None``: a form accepts what the
    operator admits. A verdict on the whole set comes as one ``("parameters", ...)``.
    """
    if not schema:
        return []
    verdict, errors = _checked(schema, parameters)
    return [("parameters", verdict)] if verdict is not None else errors[:limit]
