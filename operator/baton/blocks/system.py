"""The built-in block types: ``Secret`` (as Prefect 3's), ``String`` and ``JSON``.

``String`` and ``JSON`` are Prefect 2's system blocks, which Prefect 3 replaced by
variables (``baton.variables``); Baton keeps them for code written against Prefect 2.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import Field, JsonValue, SecretStr, field_validator
from pydantic import Secret as PydanticSecret

from baton.blocks.core import Block

T = TypeVar("T")


class Secret(Block, Generic[T]):
    """A secret value: a string, or any JSON value, shown masked everywhere.

    ``Secret(value="sk-123").save("api-key")``; ``Secret.load("api-key").get()``.
    """

    _description = "A block that represents a secret value."

    value: SecretStr | PydanticSecret[Any] = Field(
        description="A value that should be kept secret.",
        json_schema_extra={"writeOnly": True, "format": "password"},
    )

    @field_validator("value", mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> SecretStr | PydanticSecret[Any]:
        if isinstance(value, SecretStr | PydanticSecret):
            return value
        if isinstance(value, str):
            return SecretStr(value)
        return PydanticSecret[Any](value)

    def get(self) -> Any:
        """The value: a JSON string is parsed (as Prefect does), anything else returned."""
        value = self.value.get_secret_value()
        if isinstance(value, str):
            try:
                return json.loads(value)
            except (TypeError, json.JSONDecodeError):
                return value
        return value


class String(Block):
    """A plain string (not secret)."""

    value: str = Field(description="A string value.")


class JSON(Block):
    """Any JSON value (not secret)."""

    value: JsonValue = Field(description="A JSON-compatible value.")


__all__ = ["JSON", "Secret", "String"]
