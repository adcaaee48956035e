"""Pausing a flow run: ``pause_flow_run`` with and without ``wait_for_input``, resumed
from another thread with ``resume_flow_run``; a pause that times out; where a pause is
refused; ``suspend_flow_run`` of a local run (no deployment to continue it), which
fails. Prefect 3.8.8 pauses the flow when ``pause_flow_run`` is called in a task;
Baton refuses it, as Prefect's later source does (see ``DIFFERENCES``)."""

from __future__ import annotations

import threading
import time

from casekit import describe_error, describe_state, outcome, run_logs
from prefect import flow, task
from prefect.context import get_run_context
from prefect.exceptions import NotPausedError
from prefect.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
from pydantic import BaseModel

DIFFERENCES = {
    "case_pause_refused_outside_a_flow_and_in_a_task": {
        "in_task": {
            "prefect": {
                "type": "FAILED",
                "name": "Failed",
                "message": "The flow was failed and never resumed.",
            },
            "baton": {
                "type": "FAILED",
                "name": "Failed",
                "message": "Flow run encountered an exception: RuntimeError: "
                "Cannot pause task runs.",
            },
            "why": "compatibility.md#pausing-from-inside-a-task-is-refused",
        },
    },
}


class Approval(BaseModel):
    approved: bool
    note: str = "none"


def _resume_when_paused(holder: dict, inputs: list, deadline: float = 60.0) -> threading.Thread:
    """Resume the run named in ``holder`` with each input in turn until one is accepted.

    A run that is not paused yet raises ``NotPausedError``: try again a moment later.
    """

    def resume() -> None:
        # The run starts when the framework is ready (Prefect's temporary server may
        # take minutes on a loaded machine): the deadline counts from then.
        start = time.monotonic() + 900
        while "id" not in holder and time.monotonic() < start:
            time.sleep(0.02)
        stop = time.monotonic() + deadline
        pending = list(inputs)
        while pending and time.monotonic() < stop:
            try:
                resume_flow_run(holder["id"], run_input=pending[0])
            except NotPausedError:
                holder["not_paused_yet"] = True
                time.sleep(0.05)
                continue
            except Exception as exc:  # a refused input: the next one
                holder.setdefault("refused", []).append(describe_error(exc)["error"])
                pending.pop(0)
                continue
            holder["accepted"] = pending.pop(0)
            return

    thread = threading.Thread(target=resume, daemon=True)
    thread.start()
    return thread


def case_pause_waits_for_input() -> dict:
    holder: dict = {}

    @flow
    def approve() -> dict:
        holder["id"] = get_run_context().flow_run.id
        answer = pause_flow_run(wait_for_input=Approval, timeout=60, poll_interval=1)
        return {
            "is_model": isinstance(answer, Approval),
            "fields": answer.model_dump(),
            "state_after": get_run_context().flow_run.state.type.value,
        }

    resumer = _resume_when_paused(holder, [{"approved": "maybe"}, {"approved": True}])
    state = approve(return_state=True)
    resumer.join(10)
    return {
        "state": describe_state(state),
        "result": state.result(raise_on_failure=False),
        "refused": holder.get("refused"),
        "accepted": holder.get("accepted"),
        "logs": run_logs(),
    }


def case_pause_without_input_and_with_a_plain_type() -> dict:
    first: dict = {}
    second: dict = {}

    @flow
    def plain() -> None:
        first["id"] = get_run_context().flow_run.id
        return pause_flow_run(timeout=60, poll_interval=1)

    @flow
    def number() -> int:
        second["id"] = get_run_context().flow_run.id
        return pause_flow_run(wait_for_input=int, timeout=60, poll_interval=1) * 2

    _resume_when_paused(first, [None])
    plain_state = plain(return_state=True)
    _resume_when_paused(second, [{"value": "x"}, {"value": 21}])
    number_state = number(return_state=True)
    return {
        "plain": describe_state(plain_state),
        "plain_result": plain_state.result(raise_on_failure=False),
        "number": describe_state(number_state),
        "number_result": number_state.result(raise_on_failure=False),
        "number_refused": second.get("refused"),
    }


def case_pause_never_resumed_fails_the_run() -> dict:
    @task
    def after() -> str:
        return "ran"

    @flow
    def waits() -> str:
        pause_flow_run(timeout=2, poll_interval=1)
        return after()

    state = waits(return_state=True)
    return {
        "state": describe_state(state),
        "raised": outcome(state.result),
        "logs": run_logs(),
    }


def case_pause_refused_outside_a_flow_and_in_a_task() -> dict:
    @task
    def inside() -> None:
        pause_flow_run(timeout=1)

    @flow
    def with_task() -> None:
        inside()

    @task
    def suspending() -> None:
        suspend_flow_run(timeout=1)

    @flow
    def with_suspending_task() -> None:
        suspending()

    return {
        "outside": outcome(pause_flow_run, timeout=1),
        "suspend_outside": outcome(suspend_flow_run, timeout=1),
        "in_task": describe_state(with_task(return_state=True)),
        "suspend_in_task": describe_state(with_suspending_task(return_state=True)),
    }


def case_suspend_of_a_local_run_fails_the_run() -> dict:
    @task
    def before() -> str:
        return "before"

    @flow
    def suspends() -> str:
        before()
        suspend_flow_run(timeout=60)
        return "after"

    state = suspends(return_state=True)
    return {
        "state": describe_state(state),
        "is_paused": state.is_paused(),
        "logs": run_logs(),
    }
