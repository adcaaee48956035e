"""What tasks and flows both need to know about the function they wrap, computed once.

Binding arguments, calling back with bound parameters, reserved argument names,
hook lists and custom run names work the same for ``Task`` and ``Flow``; doing
this work at decoration time keeps a call down to a bind and a lookup.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from baton.exceptions import ParameterBindError, ReservedArgumentError

H = TypeVar("H")

__all__ = ["CallSpec", "hook_list", "render_run_name", "takes_parameters"]

RESERVED_ARGUMENTS = ("return_state", "wait_for")


class CallSpec:
    """A function's signature and the facts derived from it.

    Raises:
        ReservedArgumentError: The function has a parameter named ``return_state``
            or ``wait_for``, which Baton's calls take for themselves.
    """

    __slots__ = ("defaults", "fn", "keyword_call", "required", "signature")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        params = self.signature.parameters
        for reserved in RESERVED_ARGUMENTS:
            if reserved in params:
                raise ReservedArgumentError(
                    f"{reserved!r} is a reserved argument name and cannot be used."
                )
        # Functions without positional-only or variadic parameters are called with
        # **parameters directly, skipping BoundArguments on the hot path.
        self.keyword_call = all(
            p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params.values()
        )
        self.defaults = {name: p.default for name, p in params.items() if p.default is not p.empty}
        self.required = [
            name
            for name, p in params.items()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind call arguments to parameter names, defaults applied.

        Raises:
            ParameterBindError: The arguments do not fit the signature.
        """
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterBindError.from_bind_failure(self.fn, exc, args, kwargs) from exc
        bound.apply_defaults()
        return bound.arguments

    def bind_ordered(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Order ``parameters`` by the signature and fill in defaults."""
        names = self.signature.parameters
        ordered = {name: parameters[name] for name in names if name in parameters}
        bound = inspect.BoundArguments(self.signature, ordered)
        bound.apply_defaults()
        return bound.arguments

    def call_arguments(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn parameters by name back into ``(args, kwargs)`` for the function."""
        if self.keyword_call:
            return (), parameters
        bound = inspect.BoundArguments(self.signature, parameters)
        return bound.args, bound.kwargs


def hook_list(value: H | Iterable[H] | None) -> list[H]:
    """Normalise a hook option (one callable, several, or none) to a list."""
    if value is None:
        return []
    return [value] if callable(value) else list(value)  # type: ignore[arg-type]


def takes_parameters(template: object) -> bool:
    """Whether a callable run-name template wants the parameters dict."""
    return callable(template) and bool(inspect.signature(template).parameters)


def render_run_name(
    template: str | Callable[..., str],
    parameters: dict[str, Any],
    pass_parameters: bool,
    option: str,
) -> str:
    """Render a ``task_run_name``/``flow_run_name``: a format string over the parameters,
    or a callable (given the parameters if it takes an argument).

    Raises:
        TypeError: The callable did not return a string.
    """
    if isinstance(template, str):
        return template.format(**parameters)
    name = template(parameters) if pass_parameters else template()
    if not isinstance(name, str):
        raise TypeError(
            f"Callable {template!r} for {option!r} returned a {type(name).__name__}, not a string."
        )
    return name
