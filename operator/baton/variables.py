"""``Variable``: named, mutable JSON values shared by flows (Prefect 3's ``prefect.variables``).

Prefect's semantics: ``get(name, default=None)`` returns the value or the default;
``set(name, value, tags=None, overwrite=False)`` creates, or with ``overwrite=True``
replaces value and tags (without it an existing name raises ``ValueError``); ``unset``
returns whether something was deleted. Names are lowercase letters, digits, dashes and
underscores (at most 255); values are JSON (strings, numbers, booleans, null, lists,
objects), at most 5,000 characters as JSON.

Where they live (``baton._store``): in a cluster, one ConfigMap ``baton-variables`` per
namespace — ``data[<name>]`` is the value as JSON, the annotation
``baton.dev/variable-tags`` maps names to tags — written with resourceVersion
preconditions, so two writers never lose each other's update; without a cluster,
``$BATON_HOME/variables.json``. Variables are not secret (use a Secret block).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, field_validator

from baton import _store, contract

CONFIG_MAP = "baton-variables"
TAGS_ANNOTATION = contract.ANNOTATION_VARIABLE_TAGS
MAX_NAME_LENGTH = 255
MAX_VALUE_LENGTH = 5000
NAME_PATTERN = re.compile(r"^[a-z0-9\-_]*$")
_WRITE_ATTEMPTS = 10

T = TypeVar("T")
Json = dict[str, Any]


def _check_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise ValueError(
            "Variable name must only contain lowercase letters, numbers, and dashes or "
            f"underscores, at most {MAX_NAME_LENGTH} characters."
        )
    return name


def _check_value(value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool | dict | list):
        raise ValueError("Variable value must be serializable to JSON")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError("Variable value must be serializable to JSON") from error
    if value is not None and len(encoded) > MAX_VALUE_LENGTH:
        raise ValueError(f"Variable value must be less than {MAX_VALUE_LENGTH} characters")
    return value


class Variable(BaseModel, Generic[T]):
    """A named JSON value: ``Variable.set("region", "eu")``, ``Variable.get("region")``."""

    name: str = Field(max_length=MAX_NAME_LENGTH, description="The name of the variable")
    value: Any = Field(description="The value of the variable")
    tags: list[str] | None = Field(default=None)

    @field_validator("value")
    @classmethod
    def _json_value(cls, value: Any) -> Any:
        return _check_value(value)

    @classmethod
    def set(
        cls,
        name: str,
        value: Any,
        tags: list[str] | None = None,
        overwrite: bool = False,
    ) -> Variable[Any]:
        """Create variable ``name``; replace it (value and tags) only with ``overwrite``.

        Raises:
            ValueError: It exists and ``overwrite`` is false, or the name or value is invalid.
        """
        with _store.variables_place() as place:
            set_at(place, name, value, tags=tags, overwrite=overwrite)
        return cls(name=name, value=value, tags=list(tags or []))

    @classmethod
    def get(cls, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default`` when it does not exist."""
        with _store.variables_place() as place:
            found = _read(place, name)
        return default if found is None else found[0]

    @classmethod
    def unset(cls, name: str) -> bool:
        """Delete ``name``; True if it existed."""
        with _store.variables_place() as place:
            return _delete(place, name)

    @classmethod
    async def aset(
        cls, name: str, value: Any, tags: list[str] | None = None, overwrite: bool = False
    ) -> Variable[Any]:
        return cls.set(name, value, tags=tags, overwrite=overwrite)

    @classmethod
    async def aget(cls, name: str, default: Any = None) -> Any:
        return cls.get(name, default)

    @classmethod
    async def aunset(cls, name: str) -> bool:
        return cls.unset(name)


def _refuse(name: str) -> None:
    raise ValueError(f"Variable {name!r} already exists. Use `overwrite=True` to update it.")


# -- storage ------------------------------------------------------------------------------------
def listed(place: _store.Cluster | _store.Local) -> dict[str, tuple[Any, list[str]]]:
    """Every variable: name -> (value, tags)."""
    data, tags = _cluster_state(place)[:2] if isinstance(place, _store.Cluster) else _local(place)
    return {k: (json.loads(v), tags.get(k, [])) for k, v in sorted(data.items())}


def _read(place: _store.Cluster | _store.Local, name: str) -> tuple[Any, list[str]] | None:
    return listed(place).get(name)


def _cluster_state(place: _store.Cluster) -> tuple[dict[str, str], dict[str, list[str]], str]:
    from baton._kube.client import CONFIGMAPS, NotFound  # noqa: PLC0415

    try:
        found = place.client.get(CONFIGMAPS, CONFIG_MAP, place.namespace)
    except NotFound:
        return {}, {}, ""
    metadata = found.get("metadata") or {}
    raw_tags = (metadata.get("annotations") or {}).get(TAGS_ANNOTATION) or "{}"
    return dict(found.get("data") or {}), json.loads(raw_tags), str(metadata["resourceVersion"])


def _write_cluster(
    place: _store.Cluster, data: dict[str, str], tags: dict[str, list[str]], version: str
) -> None:
    """Replace the ConfigMap's data, conditional on ``version`` (empty: create it)."""
    from baton._kube.client import CONFIGMAPS  # noqa: PLC0415

    body: Json = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIG_MAP,
            "labels": {**contract.MANAGED_BY, contract.LABEL_VARIABLES: "true"},
            "annotations": {TAGS_ANNOTATION: json.dumps(tags, sort_keys=True)},
        },
        "data": data,
    }
    if not version:
        place.client.create(CONFIGMAPS, body, place.namespace)
        return
    body["metadata"]["resourceVersion"] = version
    place.client.request("PUT", CONFIGMAPS.path(place.namespace, CONFIG_MAP), body=body)


def _local(place: _store.Local) -> tuple[dict[str, str], dict[str, list[str]]]:
    path = place.home / "variables.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, {}
    return dict(document.get("data") or {}), dict(document.get("tags") or {})


def _write_local(place: _store.Local, data: dict[str, str], tags: dict[str, list[str]]) -> None:
    place.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=place.home, prefix=".variables-")
    with os.fdopen(handle, "w") as out:
        json.dump({"data": data, "tags": tags}, out, sort_keys=True)
    os.replace(temporary, place.home / "variables.json")


def _change(
    place: _store.Cluster | _store.Local,
    change: Any,
) -> Any:
    """Apply ``change(data, tags) -> result`` with optimistic concurrency in a cluster."""
    from baton._kube.client import Conflict  # noqa: PLC0415

    if isinstance(place, _store.Local):
        data, tags = _local(place)
        result = change(data, tags)
        _write_local(place, data, tags)
        return result
    for attempt in range(_WRITE_ATTEMPTS):
        data, tags, version = _cluster_state(place)
        result = change(data, tags)
        try:
            _write_cluster(place, data, tags, version)
        except Conflict:  # someone else wrote in between (or created it): read again
            time.sleep(0.05 * attempt)
            continue
        return result
    raise _store.StoreError(
        f"ConfigMap {CONFIG_MAP} kept changing; gave up after {_WRITE_ATTEMPTS} tries"
    )


def _write(
    place: _store.Cluster | _store.Local,
    name: str,
    check: Any,
    *,
    value: Any,
    tags: list[str],
) -> None:
    def change(data: dict[str, str], all_tags: dict[str, list[str]]) -> None:
        check(name in data)
        data[name] = json.dumps(value)
        if tags:
            all_tags[name] = tags
        else:
            all_tags.pop(name, None)

    _change(place, change)


def _delete(place: _store.Cluster | _store.Local, name: str) -> bool:
    if name not in (
        _cluster_state(place)[0] if isinstance(place, _store.Cluster) else _local(place)[0]
    ):
        return False

    def change(data: dict[str, str], tags: dict[str, list[str]]) -> bool:
        tags.pop(name, None)
        return data.pop(name, None) is not None

    result: bool = _change(place, change)
    return result


def set_at(
    place: _store.Cluster | _store.Local,
    name: str,
    value: Any,
    *,
    tags: list[str] | None = None,
    overwrite: bool = False,
) -> None:
    """``Variable.set`` into an explicit place (the CLI)."""
    _check_name(name)
    _check_value(value)
    _write(place, name, lambda exists: _refuse(name) if exists and not overwrite else None,
           value=value, tags=list(tags or []))  # fmt: skip


def get_at(place: _store.Cluster | _store.Local, name: str) -> tuple[Any, list[str]] | None:
    return _read(place, name)


def unset_at(place: _store.Cluster | _store.Local, name: str) -> bool:
    return _delete(place, name)


__all__ = ["Variable", "get_at", "listed", "set_at", "unset_at"]
