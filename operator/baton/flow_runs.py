"""Pausing a flow run until someone resumes it, optionally with input (``prefect.flow_runs``).

Prefect 3's semantics:

* ``pause_flow_run(wait_for_input=None, timeout=3600, poll_interval=10, key=None)``
  blocks the flow (task runs already submitted keep running), sets the run ``Paused``,
  and checks every ``poll_interval`` seconds whether it was resumed; after ``timeout``
  seconds it raises ``FlowPauseTimeout("Flow run was paused and never resumed.")``,
  which fails the run. With ``wait_for_input`` (a pydantic model, or any type pydantic
  validates, wrapped as a model with one ``value`` field) it returns the input the run
  was resumed with, validated.
* ``suspend_flow_run(...)`` sets the run ``Suspended`` (a paused state) and ends the
  attempt: the run's process exits, and the run continues from the start in a new one
  when resumed, where the same call returns the input at once. Only a run with a
  FlowRun can be suspended (Prefect: with a deployment); a local run fails with
  Prefect's ``RuntimeError``.
* An expired pause fails the run with "The flow was failed and never resumed." (the
  message Prefect's server gives it); the flow's log shows the ``FlowPauseTimeout``.
* ``resume_flow_run(flow_run_id, run_input=None)`` resumes a paused run; the input is
  checked against the schema the run recorded (``RuntimeError`` naming the problem), a
  run that is not paused raises ``NotPausedError``, an expired pause ``FlowPauseTimeout``.

Where the pause waits is ``baton._engine.pause_store``: local files, or the FlowRun in a
cluster (resumed there by ``baton resume RUN --input k=v``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, overload
from uuid import UUID

from baton._engine.context import FlowRunContext, TaskRunContext
from baton._engine.dispatch import in_async_context
from baton._engine.flow_engine import set_flow_run_state
from baton._engine.pause_store import PauseRecord, get_pause_store
from baton._engine.run_logger import flow_run_logger
from baton.exceptions import FlowPauseTimeout, NotPausedError, Pause
from baton.states import Paused, Running, Suspended

__all__ = ["pause_flow_run", "resume_flow_run", "suspend_flow_run"]

T = TypeVar("T")
#: The field a plain type's input is kept under (as Prefect's automatic run inputs do).
VALUE_FIELD = "value"


class _Input:
    """What the run waits for: the JSON schema shown to the resumer, and the loader."""

    def __init__(self, wanted: Any) -> None:
        from pydantic import BaseModel, create_model  # noqa: PLC0415 - only pauses need it

        self.plain = not (isinstance(wanted, type) and issubclass(wanted, BaseModel))
        name = getattr(wanted, "__name__", "Input")
        self.model: type[BaseModel] = (
            create_model(f"{name}RunInput", value=(wanted, ...)) if self.plain else wanted
        )

    def schema(self) -> dict[str, Any]:
        return self.model.model_json_schema()

    def load(self, data: dict[str, Any] | None) -> Any:
        value = self.model.model_validate(data or {})
        return getattr(value, VALUE_FIELD) if self.plain else value


def _next_pause_key(ctx: FlowRunContext, key: str | None) -> str:
    ctx.observed_flow_pauses += 1
    return key or str(ctx.observed_flow_pauses)


def _stamp(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def _record(
    ctx: FlowRunContext, key: str, wanted: _Input | None, timeout: float | None, suspended: bool
) -> PauseRecord:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout) if timeout is not None else None
    return PauseRecord(
        run_id=str(ctx.flow_run.id),
        key=key,
        schema=wanted.schema() if wanted else None,
        deadline=_stamp(deadline),
        suspended=suspended,
    )


def _resumed(ctx: FlowRunContext, record: PauseRecord, wanted: _Input | None) -> Any:
    store = get_pause_store()
    store.clear(record.run_id)
    set_flow_run_state(ctx, Running())
    flow_run_logger(ctx).info("Resuming flow run execution!")
    return wanted.load(record.run_input) if wanted else None


def _current_context(what: str) -> FlowRunContext:
    if TaskRunContext.get():
        raise RuntimeError(f"Cannot {what} task runs.")
    ctx = FlowRunContext.get()
    if ctx is None:
        verb = "paused" if what == "pause" else "suspended"
        raise RuntimeError(f"Flow runs can only be {verb} from within a flow run.")
    return ctx


def _pause(wanted: Any, timeout: float, poll_interval: float, key: str | None) -> Any:
    ctx = _current_context("pause")
    logger = flow_run_logger(ctx)
    pause_key = _next_pause_key(ctx, key)
    run_input = _Input(wanted) if wanted is not None else None
    logger.info("Pausing flow, execution will continue when this flow run is resumed.")
    record = _record(ctx, pause_key, run_input, timeout, suspended=False)
    store = get_pause_store()
    set_flow_run_state(ctx, Paused(timeout_seconds=timeout, reschedule=False, pause_key=pause_key))
    store.pause(record)
    # As Prefect: a first look after min(timeout / 2, poll_interval), then every
    # poll_interval, and one last look at the deadline.
    deadline = time.monotonic() + timeout
    time.sleep(min(timeout / 2, poll_interval))
    while True:
        current = store.read(record.run_id)
        if current is not None and current.key == pause_key and current.resumed:
            return _resumed(ctx, current, run_input)
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(poll_interval, left))
    store.clear(record.run_id)
    raise FlowPauseTimeout("Flow run was paused and never resumed.")


@overload
def pause_flow_run(
    wait_for_input: None = None,
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> None: ...


@overload
def pause_flow_run(
    wait_for_input: type[T],
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> T: ...


def pause_flow_run(
    wait_for_input: type[T] | None = None,
    timeout: float = 3600,
    poll_interval: float = 10,
    key: str | None = None,
) -> T | None:
    """Block the current flow run until it is resumed; return the input it was given.

    Args:
        wait_for_input: A pydantic model (or a type pydantic validates) the resume must
            provide; the validated value is returned.
        timeout: Seconds to wait before the run fails (``FlowPauseTimeout``).
        poll_interval: Seconds between checks for a resume.
        key: The pause's key (default: its number among this run's pauses).

    Raises:
        RuntimeError: Called from a task run, or outside a flow run.
        FlowPauseTimeout: Not resumed within ``timeout`` seconds.

    Called from an ``async def`` flow it returns a coroutine to await; the wait then
    runs on a thread so the event loop stays free.
    """
    if in_async_context():
        import asyncio  # noqa: PLC0415 - loaded already (a coroutine runs)

        return asyncio.to_thread(  # type: ignore[return-value]
            _pause, wait_for_input, timeout, poll_interval, key
        )
    return _pause(wait_for_input, timeout, poll_interval, key)  # type: ignore[no-any-return]


def _suspend(wanted: Any, timeout: float | None, key: str | None) -> Any:
    ctx = _current_context("suspend")
    pause_key = _next_pause_key(ctx, key)
    run_input = _Input(wanted) if wanted is not None else None
    store = get_pause_store()
    # A new attempt after the resume runs the flow again from the start: the same
    # suspend (same key) finds its resume and returns the input at once.
    earlier = store.read(str(ctx.flow_run.id))
    if earlier is not None and earlier.key == pause_key and earlier.resumed:
        return _resumed(ctx, earlier, run_input)
    flow_run_logger(ctx).info(
        "Suspending flow run, execution will be rescheduled when this flow run is resumed."
    )
    if not store.can_suspend:
        raise RuntimeError(
            "Flow run cannot be suspended: Cannot suspend flows without a deployment."
        )
    record = _record(ctx, pause_key, run_input, timeout, suspended=True)
    state = Suspended(timeout_seconds=timeout, pause_key=pause_key)
    store.pause(record)
    raise Pause(state=state)


def suspend_flow_run(
    wait_for_input: type[T] | None = None,
    flow_run_id: UUID | None = None,
    timeout: float | None = 3600,
    key: str | None = None,
) -> T | None:
    """End the current flow run's attempt until it is resumed (Prefect's ``Suspended``).

    The run ends ``Suspended``; once resumed, a new attempt runs the flow from the start
    (in a cluster: a new Job; task runs with a cache policy are not run again), and this
    call returns the resume's input there.

    Raises:
        RuntimeError: Called from a task run or outside a flow run.
        NotImplementedError: ``flow_run_id`` of another run (not supported).
    """
    if flow_run_id is not None:
        ctx = FlowRunContext.get()
        if ctx is None or ctx.flow_run.id != flow_run_id:
            raise NotImplementedError("Baton suspends only the current flow run")
    return _suspend(wait_for_input, timeout, key)  # type: ignore[no-any-return]


def resume_flow_run(flow_run_id: UUID | str, run_input: dict[str, Any] | None = None) -> None:
    """Resume a paused (or suspended) flow run, with ``run_input`` if it waits for input.

    Raises:
        NotPausedError: The run is not paused.
        FlowPauseTimeout: The pause expired.
        RuntimeError: The input does not match what the run waits for.
    """
    run_id = str(flow_run_id)
    store = get_pause_store()
    record = store.read(run_id)
    if record is None or record.resumed:
        raise NotPausedError("Cannot resume a run that isn't paused!")
    if record.deadline and datetime.fromisoformat(record.deadline) <= datetime.now(UTC):
        raise FlowPauseTimeout("Flow run can no longer be resumed.")
    problem = input_problem(record.schema, run_input)
    if problem:
        raise RuntimeError(f"Cannot resume this run: {problem}")
    store.resume(run_id, record.key, run_input)


def input_problem(schema: dict[str, Any] | None, run_input: dict[str, Any] | None) -> str | None:
    """Why ``run_input`` cannot resume a pause waiting for ``schema``, or ``None``.

    The operator's bounded validator (``baton.schema_validation``), so ``baton resume``,
    the UI and a local resume give the same verdict.
    """
    if schema is None:
        return None
    if run_input is None:
        return "Run input is required: the flow run waits for input"
    from baton.schema_validation import parameter_problems  # noqa: PLC0415

    problem = parameter_problems(schema, run_input)
    if problem is None:
        return None
    return "Run input validation failed: " + problem.removeprefix("invalid parameters: ")
