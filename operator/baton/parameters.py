"""Flow parameters: JSON Schema from a signature, and validation with pydantic.

The schema (Prefect's shape: ``{"title": "Parameters", "type": "object",
"properties": ..., "required": [...], "definitions": {...}}``) is what a Flow
resource publishes as ``parameterSchema``; validation coerces like Prefect
(``"3"`` becomes ``3`` for ``x: int``) and names each bad field.

pydantic is imported on first use, not with ``baton``: it costs more to import
than a whole local run is allowed to take, and flows whose arguments already
have their annotated simple types skip it (``needs_validation``).
"""

from __future__ import annotations

import contextlib
import inspect
import re
import typing
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from baton.exceptions import ParameterTypeError, SignatureMismatchError

__all__ = [
    "needs_validation",
    "parameter_schema",
    "validate_parameters",
]

_SIMPLE_TYPES: dict[object, type] = {
    int: int,
    float: float,
    str: str,
    bool: bool,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
}
_models: weakref.WeakKeyDictionary[Callable[..., Any], Any] = weakref.WeakKeyDictionary()
_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params):\s*$")
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _docstring_descriptions(fn: Callable[..., Any]) -> dict[str, str]:
    """Read per-argument descriptions from a Google-style ``Args:`` section."""
    doc = inspect.getdoc(fn) or ""
    descriptions: dict[str, str] = {}
    in_args, current = False, None
    for line in doc.splitlines():
        if _ARGS_SECTION.match(line):
            in_args = True
            continue
        if not in_args:
            continue
        if line and not line[0].isspace():
            break  # the next section starts
        match = _ARG_LINE.match(line)
        if match and len(line) - len(line.lstrip()) <= 4:
            current = match.group(1).lstrip("*")
            descriptions[current] = match.group(3).strip()
        elif current and line.strip():
            descriptions[current] = f"{descriptions[current]} {line.strip()}"
    return descriptions


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolve annotations; one that cannot be resolved becomes ``Any``, not all of them."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(fn, "__globals__", {})
    for name, annotation in getattr(fn, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:
            hints[name] = Any
    return hints


def _model_for(fn: Callable[..., Any]) -> Any:
    """Build (once per function) a pydantic model whose fields are ``fn``'s parameters."""
    try:
        return _models[fn]
    except (KeyError, TypeError):
        pass
    import pydantic  # noqa: PLC0415 - imported on first use, see module docstring

    signature = inspect.signature(fn)
    hints = _type_hints(fn)
    descriptions = _docstring_descriptions(fn)
    fields: dict[str, Any] = {}
    for position, (name, param) in enumerate(signature.parameters.items()):
        annotation: Any = hints.get(name, Any)
        default: dict[str, Any]
        if param.kind is param.VAR_POSITIONAL:
            annotation = list[annotation]
            default = {"default_factory": list}
        elif param.kind is param.VAR_KEYWORD:
            annotation = dict[str, annotation]
            default = {"default_factory": dict}
        else:
            default = {"default": ... if param.default is param.empty else param.default}
        # Internal field names avoid clashes with BaseModel attributes ("json", "copy"...);
        # the alias carries the parameter's real name everywhere users see it.
        fields[f"p{position}"] = (
            annotation,
            pydantic.Field(
                alias=name,
                title=name,
                description=descriptions.get(name),
                json_schema_extra={"position": position},
                **default,
            ),
        )
    model = pydantic.create_model(
        "Parameters",
        __config__=pydantic.ConfigDict(
            arbitrary_types_allowed=True, extra="forbid", populate_by_name=False
        ),
        **fields,
    )
    with contextlib.suppress(TypeError):  # not weak-referenceable: rebuilt next time
        _models[fn] = model
    return model


def parameter_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """Return the JSON Schema of ``fn``'s parameters, in Prefect's shape.

    Properties carry ``title``, ``position``, ``default`` and, when the
    docstring has a Google-style ``Args:`` section, ``description``. Types
    pydantic cannot describe become an unconstrained ``{}``; ``required`` is
    omitted when empty; nested models go to ``definitions``.

    Args:
        fn: The function (a flow's ``fn``).

    Returns:
        A JSON-serialisable dict.
    """
    from pydantic.json_schema import (  # noqa: PLC0415 - lazy, see module docstring
        GenerateJsonSchema,
        JsonSchemaValue,
        PydanticJsonSchemaWarning,
    )

    class _Lenient(GenerateJsonSchema):
        def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
            return {}

    model = _model_for(fn)
    with warnings.catch_warnings():
        # Defaults that cannot be shown in JSON are left out of the schema, silently.
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
        raw = model.model_json_schema(
            by_alias=True, ref_template="#/definitions/{model}", schema_generator=_Lenient
        )
    schema: dict[str, Any] = {
        "title": "Parameters",
        "type": "object",
        "properties": raw.get("properties", {}),
    }
    if raw.get("required"):
        schema["required"] = raw["required"]
    schema["definitions"] = raw.get("$defs", {})
    return schema


def needs_validation(fn: Callable[..., Any], parameters: dict[str, Any]) -> bool:
    """Whether pydantic must look at ``parameters``.

    ``False`` when every value already has exactly its annotated simple type
    (``int``, ``float``, ``str``, ``bool``) and every parameter is known: pydantic
    would return them unchanged, so the engine skips importing it.
    """
    annotations = getattr(fn, "__annotations__", {})
    names = inspect.signature(fn).parameters
    for name, value in parameters.items():
        if name not in names or _SIMPLE_TYPES.get(annotations.get(name)) is not type(value):
            return True
    return False


def validate_parameters(fn: Callable[..., Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Validate and coerce ``parameters`` against ``fn``'s annotations.

    Args:
        fn: The function whose signature defines the parameters.
        parameters: Values by parameter name.

    Returns:
        The given parameters, coerced (``"3"`` -> ``3`` for ``x: int``);
        defaults are not added.

    Raises:
        SignatureMismatchError: Unknown parameter names.
        ParameterTypeError: Values that fail validation, one line per field.
    """
    import pydantic  # noqa: PLC0415 - imported on first use, see module docstring

    known = inspect.signature(fn).parameters
    unknown = [name for name in parameters if name not in known]
    if unknown:
        raise SignatureMismatchError(
            f"Function expects parameters {list(known)} but was provided with "
            f"parameters {list(parameters)}"
        )
    model = _model_for(fn)
    try:
        validated = model.model_validate(parameters)
    except pydantic.ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ParameterTypeError(
            "Flow run received invalid parameters:\n - " + "\n - ".join(problems)
        ) from None
    by_alias = {info.alias: field for field, info in type(validated).model_fields.items()}
    return {name: getattr(validated, by_alias[name]) for name in parameters}
