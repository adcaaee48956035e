"""Flows: final-state rules, subflows, hooks, logging, log_prints and the observer."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sdk_testkit import ListHandler, RecordingObserver

from baton import flow, get_run_logger, runtime, task
from baton._engine.flow_engine import run_flow
from baton.exceptions import FailedRun, MissingContextError, ParameterBindError
from baton.runtime import deployment, flow_run, task_run
from baton.states import Cancelled, Completed, Failed, State

pytestmark = pytest.mark.unit

LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3} \| (INFO   |ERROR  |WARNING) \| (Flow|Task) run '[^']+' - "
)


@task
def double(x: int) -> int:
    return 2 * x


def test_flow_name_defaults_to_dashed_function_name() -> None:
    @flow
    def my_etl_flow() -> None:
        pass

    assert my_etl_flow.name == "my-etl-flow"
    assert flow(name="etl")(my_etl_flow.fn).name == "etl"
    with pytest.raises(ValueError, match="invalid character"):
        flow(name="a/b")(my_etl_flow.fn)


def test_return_value_is_the_result() -> None:
    @flow
    def f(x: int) -> dict[str, int]:
        return {"doubled": double(x)}

    state = f(4, return_state=True)
    assert state.is_completed() and state.result() == {"doubled": 8}
    assert f.fn(1) == {"doubled": 2}  # the undecorated function, tasks still run inline


def test_manual_states_are_used_as_final_state() -> None:
    @flow
    def ok() -> State[Any]:
        return Completed(message="I am happy with this result")

    @flow
    def bad() -> State[Any]:
        return Failed(message="How did this happen!?")

    assert ok(return_state=True).message == "I am happy with this result"
    state = bad(return_state=True)
    assert state.is_failed()
    with pytest.raises(FailedRun, match="How did this happen"):
        bad()


def test_returning_a_failed_task_state_fails_the_flow() -> None:
    @task
    def fails() -> None:
        raise ValueError("x")

    @flow
    def f() -> State[Any]:
        return fails(return_state=True)

    assert f(return_state=True).message == "1/1 states failed."


def test_subflow_runs_inline_with_its_own_run(observer: RecordingObserver) -> None:
    @flow
    def child(x: int) -> int:
        return double(x)

    @flow
    def parent() -> int:
        return child(5) + 1

    state = run_flow(parent, {}, observer=observer)
    assert state.result() == 11
    flow_ids = {s.state_details.flow_run_id for s in observer.flow_states}
    assert len(flow_ids) == 2
    assert [s.name for s in observer.flow_states] == [
        "Pending",
        "Running",
        "Pending",
        "Running",
        "Completed",
        "Completed",
    ]


def test_failing_subflow_raises_in_parent() -> None:
    @flow
    def child() -> None:
        raise KeyError("child")

    @flow
    def parent() -> str:
        try:
            child()
        except KeyError:
            return "handled"
        return "no"

    assert parent() == "handled"


def test_hand_built_states_in_a_returned_list_are_aggregated() -> None:
    @flow
    def one_failed() -> list[State[Any]]:
        return [Completed(), Failed()]

    @flow
    def one_cancelled() -> list[State[Any]]:
        return [Completed(), Cancelled(), Failed()]

    @flow
    def all_completed() -> list[Any]:
        return [double(1, return_state=True), Completed(data=5)]

    failed = one_failed(return_state=True)
    assert (failed.type.value, failed.message) == ("FAILED", "1/2 states failed.")
    cancelled = one_cancelled(return_state=True)
    assert (cancelled.type.value, cancelled.message) == ("CANCELLED", "1/3 states cancelled.")
    completed = all_completed(return_state=True)
    assert completed.message == "All states completed." and completed.result() == [2, 5]


def test_binding_errors_name_the_function_and_the_call() -> None:
    @flow
    def main(x: int, y: int = 2) -> int:
        return x + y

    with pytest.raises(ParameterBindError) as raised:
        main(z=1)  # type: ignore[call-arg]
    assert isinstance(raised.value, TypeError)
    assert str(raised.value) == (
        "Error binding parameters for function 'main': missing a required argument: 'x'.\n"
        # Prefect strips the parentheses as characters; annotations are strings here.
        "Function 'main' has signature 'x: 'int', y: 'int' = 2) -> 'int'' "
        "but received args: () and kwargs: ['z']."
    )
    with pytest.raises(ParameterBindError, match="function 'double': too many positional"):
        double(1, 2)  # type: ignore[call-arg]


def test_hooks_run_before_the_final_line_and_each_attempt_begins(logs: ListHandler) -> None:
    attempts: list[int] = []

    def on_done(fl: Any, flow_run: Any, state: State[Any]) -> None:
        pass

    @flow(retries=1, retry_delay_seconds=0, on_running=on_done, on_completion=on_done)
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt")

    flaky()
    messages = [m for m in logs.messages if not m.startswith("Hook ")]
    assert [m.split(" ")[0] for m in messages] == [
        "Running",  # on_running, then the attempt begins
        "Beginning",
        "Encountered",
        "Received",
        "Running",
        "Beginning",
        "Running",  # on_completion, then the final line
        "Finished",
    ]
    assert logs.records[-1].levelno == logging.INFO


def test_flow_hooks() -> None:
    seen: list[str] = []

    def hook(fl: Any, flow_run: Any, state: State[Any]) -> None:
        seen.append(f"{fl.name}:{state.name}:{flow_run.name}")

    @flow(on_completion=[hook], on_running=hook, flow_run_name="run-{x}")
    def works(x: int) -> None:
        pass

    @flow(on_failure=hook, flow_run_name="failing")
    def fails() -> None:
        raise ValueError

    works(1)
    fails(return_state=True)
    assert seen == ["works:Running:run-1", "works:Completed:run-1", "fails:Failed:failing"]


def test_invalid_parameters_fail_before_any_attempt(logs: ListHandler) -> None:
    @flow(retries=2)
    def typed(x: int) -> int:
        return x

    state = typed("three", return_state=True)  # type: ignore[arg-type]
    assert state.message is not None
    assert state.message.startswith(
        "Validation of flow parameters failed with error: ParameterTypeError: "
        "Flow run received invalid parameters:\n - x: "
    )
    assert not any(m.startswith("Beginning") for m in logs.messages)
    error = next(r for r in logs.records if r.levelno == logging.ERROR)
    assert error.getMessage().startswith(
        "Validation of flow parameters failed with error: Flow run received invalid parameters:"
    )


def test_interrupt_crashes_the_flow_and_reraises() -> None:
    seen: list[str] = []

    @flow(on_crashed=lambda fl, run, state: seen.append(state.name))
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert seen == ["Crashed"]


def test_log_lines_have_prefect_shape(logs: ListHandler) -> None:
    @flow
    def etl() -> int:
        get_run_logger().info("hello from the flow")
        return double(1)

    etl()
    assert all(LINE.match(line) for line in logs.lines), logs.lines
    flow_name = logs.records[0].flow_run_name  # type: ignore[attr-defined]
    assert re.fullmatch(r"[a-z]+-[a-z]+", flow_name)
    assert logs.messages[0] == f"Beginning flow run '{flow_name}' for flow 'etl'"
    assert logs.messages[1] == "hello from the flow"
    assert re.search(
        r"\| Task run 'double-[0-9a-f]{3}' - Finished in state Completed\(\)$", logs.lines[2]
    )
    assert logs.messages[-1] == "Finished in state Completed()"


def test_console_output_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def quiet() -> None:
        pass

    quiet()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Beginning flow run" in captured.err and "for flow 'quiet'" in captured.err


def test_failure_is_logged_with_traceback(logs: ListHandler) -> None:
    @flow
    def broken() -> None:
        raise ValueError("bad")

    broken(return_state=True)
    errors = [r for r in logs.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Encountered exception during execution: ValueError('bad')"
    ]
    assert errors[0].exc_info is not None
    # As in Prefect, a flow's final line is INFO whatever the state.
    final = logs.records[-1]
    assert final.levelno == logging.INFO
    assert final.getMessage() == (
        "Finished in state Failed('Flow run encountered an exception: ValueError: bad')"
    )


def test_get_run_logger_outside_a_run_raises() -> None:
    with pytest.raises(MissingContextError):
        get_run_logger()


def test_log_prints_routes_print_to_the_run_logger(
    logs: ListHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def shout() -> None:
        print("from task", 1)

    @task(log_prints=False)
    def opted_out() -> None:
        print("plain print")

    @flow(log_prints=True)
    def chatty() -> None:
        print("from flow")
        shout()
        opted_out()

    chatty()
    print("after the run")
    assert "from flow" in logs.messages and "from task 1" in logs.messages
    out = capsys.readouterr().out
    assert "plain print" in out and "after the run" in out and "from flow" not in out


def test_log_prints_keeps_end_and_logs_stderr(
    logs: ListHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    @flow(log_prints=True)
    def chatty() -> None:
        print("to stderr", file=sys.stderr)
        print("a", "b", sep="-", end="!\n\n")

    chatty()
    assert "to stderr" in logs.messages and "a-b!" in logs.messages
    captured = capsys.readouterr()
    assert "to stderr" not in captured.out + captured.err.replace("- to stderr", "")


def test_print_is_untouched_without_log_prints(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def plain() -> None:
        print("stdout")

    plain()
    assert capsys.readouterr().out == "stdout\n"


def test_run_flow_entry_point_for_the_runtime(observer: RecordingObserver) -> None:
    run_id = uuid4()
    due = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)

    @flow
    def report(n: int) -> dict[str, Any]:
        get_run_logger().info("working")
        return {
            "id": runtime.flow_run.id,
            "name": runtime.flow_run.name,
            "flow": runtime.flow_run.flow_name,
            "params": runtime.flow_run.parameters,
            "due": runtime.flow_run.scheduled_start_time,
        }

    state = run_flow(
        report,
        {"n": "7"},
        observer=observer,
        flow_run_name="etl-29390400",
        scheduled_start_time=due,
        flow_run_id=run_id,
    )
    assert state.result() == {
        "id": str(run_id),
        "name": "etl-29390400",
        "flow": "report",
        "params": {"n": 7},
        "due": due,
    }
    assert [s.name for s in observer.flow_states] == ["Pending", "Running", "Completed"]
    assert all(s.state_details.flow_run_id == run_id for s in observer.flow_states)
    logged = [r.getMessage() for r in observer.records]
    assert "working" in logged and logged[0].startswith("Beginning flow run 'etl-29390400'")
    assert all(getattr(r, "flow_run_id", None) == str(run_id) for r in observer.records)


def test_broken_observer_never_breaks_a_run(logs: ListHandler) -> None:
    class Broken(RecordingObserver):
        def flow_run_state(self, state: State[Any]) -> None:
            raise RuntimeError("observer down")

    @flow
    def fine() -> int:
        return 1

    assert run_flow(fine, {}, observer=Broken()).result() == 1
    assert sum("observer" in m for m in logs.messages) == 1


def test_runtime_outside_a_run() -> None:
    assert flow_run.id is None and flow_run.name is None and flow_run.parameters == {}
    assert isinstance(flow_run.scheduled_start_time, datetime)
    assert task_run.id is None and task_run.parameters == {}


def test_runtime_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON__RUNTIME__FLOW_RUN__NAME", "from-env")
    monkeypatch.setenv("BATON__RUNTIME__DEPLOYMENT__NAME", "nightly")
    monkeypatch.setenv("BATON__RUNTIME__DEPLOYMENT__PARAMETERS", '{"a": 1}')
    assert flow_run.name == "from-env"
    assert (deployment.name, deployment.parameters) == ("nightly", {"a": 1})


def test_runtime_inside_subflow_and_task() -> None:
    @task
    def where() -> tuple[str | None, str | None, int]:
        return flow_run.flow_name, task_run.task_name, task_run.run_count

    @flow
    def inner() -> tuple[Any, ...]:
        return (*where(), flow_run.parent_flow_run_id is not None)

    @flow
    def outer() -> Any:
        return inner()

    assert outer() == ("inner", "where", 1, True)


def test_emitted_events_reach_the_observer_related_to_their_run(
    observer: RecordingObserver,
) -> None:
    from baton.events import emit_event  # noqa: PLC0415 - the module under test

    @task
    def inner() -> None:
        emit_event(event="task.said", resource={"baton.resource.id": "thing.1"})

    @flow
    def main() -> None:
        emit_event(event="flow.said", resource={"prefect.resource.id": "thing.2"}, payload={"n": 1})
        inner()

    run_flow(main, {}, observer=observer)
    flow_run_id = str(observer.flow_states[-1].state_details.flow_run_id)
    said = {e["event"]: e for e in observer.events}
    assert (
        said["flow.said"]["flow_run_id"] == flow_run_id and said["flow.said"]["task_run_id"] is None
    )
    assert said["task.said"]["flow_run_id"] == flow_run_id and said["task.said"]["task_run_id"]
    assert said["flow.said"]["payload"] == {"n": 1}
