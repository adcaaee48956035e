"""A flow that emits an event, which the runtime records on its FlowRun."""

from __future__ import annotations

from baton import flow
from baton.events import emit_event


@flow
def ship(order: int) -> str:
    emit_event(
        event="order.shipped",
        resource={"baton.resource.id": f"order.{order}"},
        payload={"items": 3},
    )
    return "shipped"
