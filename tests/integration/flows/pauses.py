"""Flows that pause in their pod until ``baton resume`` (or a patch of the FlowRun) resumes them."""

from __future__ import annotations

from pydantic import BaseModel

from baton import flow
from baton.flow_runs import pause_flow_run


class Approval(BaseModel):
    approved: bool
    note: str = "none"


@flow
def approve(amount: int) -> str:
    answer = pause_flow_run(wait_for_input=Approval, timeout=120, poll_interval=0.2)
    return f"{amount}: approved={answer.approved} note={answer.note}"


@flow
def expires() -> str:
    pause_flow_run(timeout=1, poll_interval=0.2)
    return "resumed"
