"""Stable hashes of arbitrary Python values, for cache keys.

Values are serialised to canonical JSON when they can be (so a key survives
interpreter restarts and does not depend on pickle's protocol details) and to
pickle otherwise, as Prefect's ``hash_objects`` does.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import pathlib
import pickle
import uuid
from typing import Any

__all__ = ["hash_objects"]


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, decimal.Decimal, pathlib.PurePath)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__qualname__, **dataclasses.asdict(value)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return {"__model__": type(value).__qualname__, **model_dump(mode="json")}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def hash_objects(*args: Any, raise_on_failure: bool = False, **kwargs: Any) -> str | None:
    """Return an MD5 hex digest identifying ``args`` and ``kwargs``.

    Args:
        *args: Values to hash.
        raise_on_failure: Raise ``ValueError`` instead of returning ``None``
            when the values can be neither JSON- nor pickle-serialised.
        **kwargs: More values to hash.

    Returns:
        The digest, or ``None`` when the values cannot be serialised.
    """
    try:
        payload = json.dumps([args, kwargs], sort_keys=True, default=_json_default).encode()
    except (TypeError, ValueError):
        try:
            payload = pickle.dumps((args, kwargs), protocol=4)
        except Exception as exc:
            if raise_on_failure:
                raise ValueError(
                    f"Unable to create hash - objects could not be serialized: {exc}"
                ) from exc
            return None
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()
