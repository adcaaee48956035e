"""Labels Baton puts on what it creates: the run contract's (``baton.contract``), named
here for the modules that have always imported them from the controller."""

from __future__ import annotations

from baton.contract import (
    LABEL_ATTEMPT,
    LABEL_DEPLOYMENT,
    LABEL_FLOW,
    LABEL_PARENT_RUN,
    LABEL_POOL,
    LABEL_RUN,
    MANAGED_BY,
    label_value,
    selector,
)

__all__ = [
    "LABEL_ATTEMPT",
    "LABEL_DEPLOYMENT",
    "LABEL_FLOW",
    "LABEL_PARENT_RUN",
    "LABEL_POOL",
    "LABEL_RUN",
    "MANAGED_BY",
    "label_value",
    "selector",
]
