"""``emit_event``: the event a flow (or anything) emits, as the caller gets it back."""

from __future__ import annotations

from casekit import outcome
from prefect import flow
from prefect.events import emit_event


def describe(event: object) -> dict | None:
    if event is None:
        return None

    def labels(resource: dict) -> dict:
        # The labels' namespace is the framework's name ("prefect.resource.id"): compare the rest.
        return {key.rsplit(".", 1)[-1]: value for key, value in resource.items()}

    return {
        "type": type(event).__name__,
        "event": event.event,
        "resource": labels(event.resource),
        "resource_id": event.resource.id,
        "related": [labels(r) for r in event.related],
        "related_roles": [r.role for r in event.related],
        "payload": event.payload,
        "has_id": event.id is not None,
        "occurred": hasattr(event.occurred, "isoformat"),
    }


def case_emit_event() -> dict:
    @flow
    def main() -> dict:
        shipped = emit_event(
            event="order.shipped",
            resource={"prefect.resource.id": "order.42", "kind": "order"},
            payload={"items": 3},
            related=[{"prefect.resource.id": "customer.7", "prefect.resource.role": "customer"}],
        )
        return describe(shipped)

    outside = describe(emit_event(event="x.happened", resource={"prefect.resource.id": "thing.1"}))
    return {
        "inside": outcome(main),
        "outside": outside,
        "no_resource_id": outcome(emit_event, event="y", resource={"nope": "1"}),
    }
