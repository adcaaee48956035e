"""``emit_event``, as ``prefect.events``: tell the world something happened during a run.

An event has a name (``"order.shipped"``), the resource it is about
(``{"prefect.resource.id": "order.42", ...}``; Baton reads ``baton.resource.id`` the
same), related resources, and a payload. ``emit_event`` returns the ``Event`` it
sent, or ``None`` when it could not build one (a resource without an id), logging
why, as Prefect does.

Inside a flow run the event is related to the run: the run observer receives it with
the run's id, and in a pod the runtime records it as a Kubernetes Event on the FlowRun
(reason ``Emitted``, the name and resource in the message, the whole event as JSON in
the ``baton.dev/event`` annotation), where ``kubectl describe flowrun`` shows it and
anything watching Events can act on it. Locally, outside a run, nothing listens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from baton._engine.context import FlowRunContext, TaskRunContext
from baton._engine.observer import current_observer, notify

__all__ = ["Event", "RelatedResource", "Resource", "emit_event"]

logger = logging.getLogger("baton.events")
#: The label naming a resource, under Baton's and Prefect's spelling.
_ID_LABELS = ("baton.resource.id", "prefect.resource.id")
_ROLE_LABELS = ("baton.resource.role", "prefect.resource.role")


class Resource(dict[str, str]):
    """A resource's labels; ``id`` is its ``baton.resource.id`` (or ``prefect.resource.id``).

    Raises:
        ValueError: No id label.
    """

    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__({str(k): str(v) for k, v in labels.items()})
        if not any(self.get(label) for label in _ID_LABELS):
            raise ValueError(f"A resource needs a {_ID_LABELS[0]!r} label; got {dict(labels)}")

    @property
    def id(self) -> str:
        """The resource's id."""
        return next(self[label] for label in _ID_LABELS if self.get(label))


class RelatedResource(Resource):
    """A resource related to the event, with a ``role``."""

    @property
    def role(self) -> str | None:
        """The resource's role in the event (``baton.resource.role``)."""
        return next((self[label] for label in _ROLE_LABELS if self.get(label)), None)


@dataclass
class Event:
    """What ``emit_event`` sent."""

    event: str
    resource: Resource
    occurred: datetime
    related: list[RelatedResource] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    id: UUID = field(default_factory=uuid4)
    follows: UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "id": str(self.id),
            "event": self.event,
            "occurred": self.occurred.isoformat(),
            "resource": dict(self.resource),
            "related": [dict(r) for r in self.related],
            "payload": self.payload,
            "follows": str(self.follows) if self.follows else None,
        }


def emit_event(  # noqa: PLR0917 - Prefect's signature
    event: str,
    resource: dict[str, str],
    occurred: datetime | None = None,
    related: list[dict[str, str]] | list[RelatedResource] | None = None,
    payload: dict[str, Any] | None = None,
    id: UUID | None = None,  # noqa: A002 - Prefect's keyword
    follows: Event | None = None,
    **kwargs: Any,
) -> Event | None:
    """Emit an event; inside a flow run it is related to the run (see the module docstring).

    Args:
        event: The event's name.
        resource: The labels of the resource it concerns (with an id label).
        occurred: When it happened (default: now).
        related: Labels of other resources involved (each with an id label).
        payload: Any JSON-ready data.
        id: The event's id (default: a new UUID).
        follows: The event this one follows (kept if less than 5 minutes before).

    Returns:
        The event, or ``None`` if it could not be built (the error is logged).
    """
    del kwargs
    try:
        when = occurred or datetime.now(UTC)
        emitted = Event(
            event=event,
            resource=Resource(resource),
            occurred=when,
            related=[RelatedResource(dict(r)) for r in related or []],
            payload=dict(payload or {}),
            id=id or uuid4(),
            follows=follows.id
            if follows is not None and abs((when - follows.occurred).total_seconds()) < 300
            else None,
        )
    except Exception:
        logger.exception("Error emitting event: %s", event)
        return None
    task_ctx = TaskRunContext.get()
    flow_ctx = task_ctx.flow_run_context if task_ctx else FlowRunContext.get()
    record = emitted.to_dict()
    record["flow_run_id"] = str(flow_ctx.flow_run.id) if flow_ctx else None
    record["task_run_id"] = str(task_ctx.task_run.id) if task_ctx else None
    notify(current_observer(), "event_emitted", record)
    return emitted
