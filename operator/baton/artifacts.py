"""Artifacts: markdown, tables, links and progress published by a run, as in ``prefect.artifacts``.

An artifact is a plain dict handed to the run observer (the in-cluster runtime
stores a bounded list of them in the FlowRun status) and, inside a run, appended
to the run context's ``artifacts`` list. Its keys::

    id            str (UUID)       returned by create_*; pass to update_progress_artifact
    key           str | None       lowercase letters, digits and dashes
    type          "markdown" | "table" | "progress" | "image"
    link          str              only for create_link_artifact: the URL (see below)
    description   str | None       markdown
    data          str | float | list | dict   the content (tables stay structured)
    flow_run_id   str | None
    task_run_id   str | None
    created       str              ISO 8601, UTC
    updated       str              ISO 8601, UTC

As in Prefect, the ``create_*`` functions called from async code (an ``async def``
flow or task) return a coroutine: ``await create_markdown_artifact(...)``
(``baton._engine.dispatch``).

The latest version of each *keyed* artifact is also kept in the artifact store
(``baton._engine.artifact_store``: files locally, ConfigMaps in a pod), which is what
``Artifact.get(key)`` reads back in a later run.

A link artifact is stored as markdown (``[text](url)``), as Prefect stores it;
the ``link`` key remembers what it was, so that the in-cluster status and the
CLI can still show it as a link.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from baton._engine.artifact_store import get_artifact_store
from baton._engine.clock import get_clock
from baton._engine.context import FlowRunContext, TaskRunContext
from baton._engine.dispatch import async_dispatch
from baton._engine.observer import current_observer, notify

__all__ = [
    "Artifact",
    "create_image_artifact",
    "create_link_artifact",
    "create_markdown_artifact",
    "create_progress_artifact",
    "create_table_artifact",
    "update_progress_artifact",
]

_KEY = re.compile(r"^[a-z0-9-]+$")
logger = logging.getLogger("baton.artifacts")


def _sanitize(value: Any) -> Any:
    # NaN and infinities are not JSON; tables from pandas often contain them.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value


def _run_artifacts() -> tuple[list[dict[str, Any]] | None, str | None, str | None]:
    task_ctx = TaskRunContext.get()
    flow_ctx = task_ctx.flow_run_context if task_ctx else FlowRunContext.get()
    return (
        flow_ctx.artifacts if flow_ctx else None,
        str(flow_ctx.flow_run.id) if flow_ctx else None,
        str(task_ctx.task_run.id) if task_ctx else None,
    )


def _create(
    kind: str | None, data: Any, key: str | None, description: str | None, **extra: Any
) -> UUID:
    if key is not None and not _KEY.match(key):
        raise ValueError(
            f"Artifact key {key!r} must only contain lowercase letters, numbers, and dashes."
        )
    artifact_id = uuid4()
    artifacts, flow_run_id, task_run_id = _run_artifacts()
    now = get_clock().now().isoformat()
    artifact = {
        "id": str(artifact_id),
        "key": key,
        "type": kind,
        "description": description,
        "data": data,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "created": now,
        "updated": now,
        **extra,
    }
    if artifacts is not None:
        artifacts.append(artifact)
    notify(current_observer(), "artifact_created", dict(artifact))
    if key is not None:
        _keep_latest(artifact)
    return artifact_id


def _keep_latest(artifact: dict[str, Any]) -> None:
    # A store that refuses (RBAC, quota, a full disk) costs Artifact.get, not the run.
    try:
        get_artifact_store().put(dict(artifact))
    except Exception as error:
        logger.warning("could not keep artifact %r for Artifact.get: %s", artifact["key"], error)


def _latest(key: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    # This run's own versions first: the store may lag (or refuse) writes.
    artifacts, _, _ = _run_artifacts()
    own = [artifact for artifact in artifacts or [] if artifact.get("key") == key]
    return own[-1] if own else get_artifact_store().latest(key)


@dataclass
class Artifact:
    """An artifact, as Prefect's ``Artifact``: build one and ``create()`` it, or ``get`` one.

    ``Artifact.get(key)`` returns the latest version of a keyed artifact, from this run,
    an earlier one, or (in a pod) any earlier run of the namespace. ``data`` is as
    Prefect gives it back: markdown as text, a table as its JSON text, a progress value
    as a number; an ``Artifact(data=...)`` you create stores ``data`` as JSON text.
    """

    type: str | None = None
    key: str | None = None
    description: str | None = None
    data: Any = None
    id: UUID | None = None
    flow_run_id: UUID | None = None
    task_run_id: UUID | None = None
    created: str | None = None
    updated: str | None = None

    @async_dispatch
    def create(self) -> Artifact:
        """Publish this artifact in the current run; return it as stored.

        Raises:
            ValueError: An invalid key.
        """
        artifact_id = _create(
            self.type, json.dumps(self.data, default=str), self.key, self.description
        )
        artifacts, _, _ = _run_artifacts()
        stored = next((a for a in artifacts or () if a["id"] == str(artifact_id)), None)
        return _from_dict(stored) if stored else Artifact(**{**vars(self), "id": artifact_id})

    @classmethod
    def get(cls, key: str | None = None) -> Artifact | None:
        """The latest version of the artifact with ``key``, or ``None``.

        Called from async code it returns an awaitable, as Prefect's does.
        """
        return _get(key)

    @classmethod
    def get_or_create(
        cls,
        key: str | None = None,
        description: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> tuple[Artifact, bool]:
        """The latest version of ``key``, else a new one created now; and whether it was new."""
        return _get_or_create(key, description, data, **kwargs)


@async_dispatch
def _get(key: str | None) -> Artifact | None:
    found = _latest(key)
    return _from_dict(found) if found else None


@async_dispatch
def _get_or_create(
    key: str | None, description: str | None, data: Any, **kwargs: Any
) -> tuple[Artifact, bool]:
    found = _latest(key)
    if found is not None:
        return _from_dict(found), False
    created = Artifact(key=key, description=description, data=data, **kwargs).create(_sync=True)  # type: ignore[call-arg]
    return created, True


def _from_dict(artifact: dict[str, Any]) -> Artifact:
    data = artifact.get("data")
    if not isinstance(data, (str, int, float)) or isinstance(data, bool):
        data = json.dumps(data)  # Prefect gives a table back as its JSON text
    flow_run_id, task_run_id = artifact.get("flow_run_id"), artifact.get("task_run_id")
    return Artifact(
        type=artifact.get("type"),
        key=artifact.get("key"),
        description=artifact.get("description"),
        data=data,
        id=UUID(artifact["id"]) if artifact.get("id") else None,
        flow_run_id=UUID(flow_run_id) if flow_run_id else None,
        task_run_id=UUID(task_run_id) if task_run_id else None,
        created=artifact.get("created"),
        updated=artifact.get("updated"),
    )


@async_dispatch
def create_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> UUID:
    """Publish a markdown document.

    Args:
        markdown: The content.
        key: A stable name (lowercase letters, digits, dashes) to track versions.
        description: Markdown shown with the artifact.

    Returns:
        The artifact's id.

    Raises:
        ValueError: An invalid key.
    """
    return _create("markdown", markdown, key, description)


@async_dispatch
def create_table_artifact(
    table: dict[str, list[Any]] | list[dict[str, Any]] | list[list[Any]],
    key: str | None = None,
    description: str | None = None,
) -> UUID:
    """Publish a table: a dict of columns, a list of row dicts, or a list of rows.

    Non-finite floats (NaN, infinities) become ``None``.

    Returns:
        The artifact's id.

    Raises:
        TypeError: ``table`` has none of the accepted shapes.
        ValueError: An invalid key.
    """
    if not isinstance(table, (dict, list)):
        raise TypeError(
            "`table` must be a dict of lists, a list of dicts, or a list of lists; "
            f"got {type(table).__name__}"
        )
    return _create("table", _sanitize(table), key, description)


@async_dispatch
def create_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
) -> UUID:
    """Publish a link, stored as markdown (``[link_text](link)``) as Prefect does.

    Returns:
        The artifact's id.
    """
    data = f"[{link_text}]({link})" if link_text else link
    return _create("markdown", data, key, description, link=link)


@async_dispatch
def create_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> UUID:
    """Publish an image by URL.

    Returns:
        The artifact's id.
    """
    return _create("image", image_url, key, description)


def _check_progress(progress: float) -> float:
    # As Prefect: a value outside 0-100 is clamped, with a warning, not refused.
    value = float(progress)
    if not 0.0 <= value <= 100.0:
        logger.warning("ProgressArtifact received an invalid value, Progress: %s%%", value)
        value = max(0.0, min(value, 100.0))
        logger.warning("Interpreting as %s%% progress", value)
    return value


@async_dispatch
def create_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> UUID:
    """Publish a progress indicator (0-100), to move later with ``update_progress_artifact``.

    A value outside 0-100 is clamped to it, with a warning.

    Returns:
        The artifact's id.

    Raises:
        ValueError: An invalid key.
    """
    return _create("progress", _check_progress(progress), key, description)


@async_dispatch
def update_progress_artifact(
    artifact_id: UUID, progress: float, description: str | None = None
) -> UUID:
    """Move a progress artifact to ``progress`` (0-100, clamped with a warning).

    The artifact is updated in the current run's list when it is there; the
    observer always receives the update.

    Returns:
        ``artifact_id``.
    """
    value = _check_progress(progress)
    artifacts, flow_run_id, task_run_id = _run_artifacts()
    now = get_clock().now().isoformat()
    found = next((a for a in artifacts or () if a["id"] == str(artifact_id)), None)
    if found is None:
        found = {
            "id": str(artifact_id),
            "key": None,
            "type": "progress",
            "description": None,
            "flow_run_id": flow_run_id,
            "task_run_id": task_run_id,
            "created": now,
        }
    found["data"] = value
    found["updated"] = now
    if description is not None:
        found["description"] = description
    notify(current_observer(), "artifact_updated", dict(found))
    if found.get("key"):
        _keep_latest(found)
    return artifact_id
