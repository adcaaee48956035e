"""Wrappers that change how task inputs are treated: ``unmapped``, ``allow_failure``, ``quote``.

They mark a value for the engine (do not map over it; run even if this upstream
failed; do not look inside for futures) and are unwrapped before the task body
sees the value, as in ``prefect.utilities.annotations``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["BaseAnnotation", "allow_failure", "quote", "unmapped"]


class BaseAnnotation(Generic[T]):
    """A value wrapped with an instruction for the engine."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        """Return the wrapped value."""
        return self.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self), id(self.value)))


class unmapped(BaseAnnotation[T]):
    """Pass the value to every call of ``task.map()`` instead of iterating over it."""

    __slots__ = ()


class allow_failure(BaseAnnotation[T]):
    """Run the downstream task even if this upstream future failed.

    The downstream task receives the upstream's exception as the value.
    """

    __slots__ = ()


class quote(BaseAnnotation[T]):
    """Pass the value as is, without looking inside it for futures."""

    __slots__ = ()
