"""Running one flow run: parameters, attempts, retries, timeout, final state, hooks.

``run_flow`` is the single entry point: ``Flow.__call__`` uses it locally, and
the in-cluster runtime calls it with an observer that reports to the FlowRun
resource. A flow called inside another flow is a subflow: it runs inline, with
its own flow run, and reports through the parent's observer.

The final state follows Prefect: an exception (or a timeout) fails the run; a
returned value completes it, unless it is or contains task runs that did not
complete (see ``outcomes.return_value_to_state``). Submitted task runs that were
not returned are still waited for before the run ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from baton._engine.clock import get_clock
from baton._engine.context import FlowRun, FlowRunContext, TaskRunContext, current_tags
from baton._engine.observer import RunObserver, current_observer, notify, use_observer
from baton._engine.outcomes import exception_to_failed_state, return_value_to_state
from baton._engine.run_logger import configure_logging, flow_run_logger, patch_print
from baton._engine.task_engine import run_hook
from baton._engine.timeouts import call_with_timeout
from baton.exceptions import FlowRunTimeoutError, ParameterTypeError, SignatureMismatchError
from baton.states import (
    AwaitingRetry,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    StateType,
)

if TYPE_CHECKING:
    from baton.flows import Flow

__all__ = ["run_flow"]


def run_flow(
    flow: Flow[..., Any],
    parameters: dict[str, Any],
    *,
    observer: RunObserver | None = None,
    flow_run_name: str | None = None,
    scheduled_start_time: datetime | None = None,
    flow_run_id: UUID | None = None,
) -> State[Any]:
    """Run ``flow`` with ``parameters`` and return its final state.

    Args:
        flow: The flow to run.
        parameters: Parameter values by name (unvalidated: strings from a
            command line or a resource are coerced when the flow validates).
        observer: Receives states, task runs, artifacts and logs of this run and
            everything inside it; defaults to the enclosing one (none locally).
        flow_run_name: The run's name; default: the flow's ``flow_run_name``
            template, else a random ``adjective-animal``.
        scheduled_start_time: When the run was due (``baton.runtime``); default now.
        flow_run_id: The run's id; default a new UUID.

    Returns:
        The final state; ``state.result()`` gives the return value or raises.
    """
    configure_logging()
    parent = FlowRunContext.get()
    if observer is None:
        observer = parent.observer if parent else current_observer()
    now = get_clock().now()
    run = FlowRun(
        id=flow_run_id or uuid4(),
        name=flow_run_name or "",
        flow_name=flow.name,
        parameters=dict(parameters),
        scheduled_start_time=scheduled_start_time or now,
        tags=current_tags(),
        flow_version=flow.version,
        parent_flow_run_id=parent.flow_run.id if parent else None,
    )
    run.root_flow_run_id = parent.flow_run.root_flow_run_id if parent else run.id
    log_prints = flow.log_prints
    if log_prints is None:
        log_prints = bool(parent and parent.log_prints)
    ctx = FlowRunContext(
        flow=flow,
        flow_run=run,
        task_runner=flow.task_runner.duplicate(),
        observer=observer,
        log_prints=log_prints,
    )
    flow_token = FlowRunContext._var.set(ctx)
    task_token = TaskRunContext._var.set(None)  # a subflow called from a task is not that task
    try:
        with use_observer(observer):
            return _FlowRunEngine(ctx, is_subflow=parent is not None).run()
    finally:
        TaskRunContext._var.reset(task_token)
        FlowRunContext._var.reset(flow_token)


class _FlowRunEngine:
    def __init__(self, ctx: FlowRunContext, is_subflow: bool) -> None:
        self.ctx = ctx
        self.flow = ctx.flow
        self.run_record = ctx.flow_run
        self.is_subflow = is_subflow
        if not self.run_record.name:
            self.run_record.name = self.flow.render_run_name(self.run_record.parameters)
        self.logger = flow_run_logger(ctx)

    def set_state(self, state: State[Any]) -> None:
        run = self.run_record
        state.state_details.flow_run_id = run.id
        run.state = state
        if state.type is StateType.RUNNING and run.start_time is None:
            run.start_time = state.timestamp
        elif state.is_final():
            run.end_time = state.timestamp
        notify(self.ctx.observer, "flow_run_state", state)

    def run(self) -> State[Any]:
        flow, run = self.flow, self.run_record
        self.set_state(Pending())
        try:
            try:
                run.parameters = flow.validate_parameters(run.parameters)
            except (ParameterTypeError, SignatureMismatchError) as exc:
                # As in Prefect: no attempt is made (so no "Beginning" line), the log
                # line gives the bare error and the state message names its type.
                # Not retried: the same parameters would fail the same way.
                message = "Validation of flow parameters failed with error:"
                self.logger.error("%s %s", message, exc)
                state = exception_to_failed_state(exc, message)
            else:
                state = self._attempts()
        except BaseException as exc:  # KeyboardInterrupt, SystemExit
            state = Crashed(message=f"Execution was interrupted: {exc!r}", data=exc)
            self._finish(state)
            raise
        self._finish(state)
        return state

    def _finish(self, state: State[Any]) -> None:
        # Prefect runs the hooks when the state is set, then logs the final line,
        # at INFO whatever the state (unlike a task run's).
        self.set_state(state)
        hooks = {
            StateType.COMPLETED: self.flow.on_completion_hooks,
            StateType.FAILED: self.flow.on_failure_hooks,
            StateType.CRASHED: self.flow.on_crashed_hooks,
            StateType.CANCELLED: self.flow.on_cancellation_hooks,
        }.get(state.type, [])
        for hook in hooks:
            run_hook(self.logger, hook, state, self.flow, self.run_record)
        self.logger.info("Finished in state %s", state)

    def _attempts(self) -> State[Any]:
        flow, run, clock = self.flow, self.run_record, get_clock()
        while True:
            run.run_count += 1
            running = Running() if run.run_count == 1 else Retrying()
            self.set_state(running)
            # As in Prefect, every attempt runs the on_running hooks, then logs this line.
            for hook in flow.on_running_hooks:
                run_hook(self.logger, hook, running, flow, run)
            kind = "subflow" if self.is_subflow else "flow"
            self.logger.info("Beginning %s run %r for flow %r", kind, run.name, flow.name)
            state = self._attempt()
            if state.type is not StateType.FAILED or run.run_count > flow.retries:
                return state
            delay = flow.retry_delay_seconds
            self.set_state(AwaitingRetry(scheduled_time=clock.now() + timedelta(seconds=delay)))
            self.logger.info(
                "Received non-final state 'AwaitingRetry' when proposing final state %r "
                "and will attempt to run again...",
                state.name,
            )
            clock.sleep(delay)

    def _attempt(self) -> State[Any]:
        flow, ctx = self.flow, self.ctx
        args, kwargs = flow.call_arguments(self.run_record.parameters)
        # With a timeout the body runs on its own thread, under a context of its own
        # so that abandoning this attempt does not mark a later attempt abandoned.
        attempt_ctx = (
            ctx if flow.timeout_seconds is None else replace(ctx, abandoned=threading.Event())
        )

        def body() -> State[Any]:
            FlowRunContext._var.set(attempt_ctx)
            if ctx.log_prints:
                with patch_print():
                    result = flow.fn(*args, **kwargs)
            else:
                result = flow.fn(*args, **kwargs)
            return return_value_to_state(result)

        try:
            state = self._call(body)
        except FlowRunTimeoutError as exc:
            attempt_ctx.abandoned.set()
            attempt_ctx.task_runner.shutdown(wait=False)
            ctx.task_runner = ctx.task_runner.duplicate()
            message = f"Flow run exceeded timeout of {flow.timeout_seconds} second(s)"
            self.logger.error(message)
            return Failed(data=exc, message=message, name="TimedOut")
        except Exception as exc:
            self.logger.error("Encountered exception during execution: %r", exc, exc_info=exc)
            state = exception_to_failed_state(exc, "Flow run encountered an exception:")
        # Task runs submitted but neither returned nor awaited still finish first.
        ctx.task_runner.wait_all()
        return state

    def _call(self, body: Callable[[], State[Any]]) -> State[Any]:
        timeout = self.flow.timeout_seconds
        if timeout is None:
            return body()
        return call_with_timeout(
            body,
            timeout,
            lambda: FlowRunTimeoutError(f"Scope timed out after {timeout} second(s)."),
            thread_name=f"baton-flow-{self.run_record.name}",
        )
