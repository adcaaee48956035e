"""States: Prefect's constructors, names, display forms and result() rules."""

from __future__ import annotations

from uuid import uuid4

import pytest

from baton.exceptions import CancelledRun, CrashedRun, FailedRun, UnfinishedRun
from baton.states import (
    AwaitingRetry,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Late,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateType,
    get_state_exception,
)

pytestmark = pytest.mark.unit


def test_state_type_values_are_prefect_names() -> None:
    assert [t.value for t in StateType] == [
        "SCHEDULED",
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "CRASHED",
        "PAUSED",
        "CANCELLING",
    ]


@pytest.mark.parametrize(
    ("state", "type_", "name"),
    [
        (Completed(), StateType.COMPLETED, "Completed"),
        (Failed(), StateType.FAILED, "Failed"),
        (Crashed(), StateType.CRASHED, "Crashed"),
        (Cancelled(), StateType.CANCELLED, "Cancelled"),
        (Pending(), StateType.PENDING, "Pending"),
        (Running(), StateType.RUNNING, "Running"),
        (Retrying(), StateType.RUNNING, "Retrying"),
        (Scheduled(), StateType.SCHEDULED, "Scheduled"),
        (Late(), StateType.SCHEDULED, "Late"),
        (AwaitingRetry(), StateType.SCHEDULED, "AwaitingRetry"),
    ],
)
def test_constructors_give_type_and_name(state: State[object], type_: StateType, name: str) -> None:
    assert state.type is type_
    assert state.name == name


def test_predicates() -> None:
    assert Completed().is_completed() and Completed().is_final()
    assert Failed().is_failed() and Failed().is_final()
    assert Crashed().is_crashed() and Cancelled().is_cancelled()
    assert Running().is_running() and not Running().is_final()
    assert Pending().is_pending() and Scheduled().is_scheduled()
    assert not Completed().is_failed()


def test_str_is_prefect_log_form() -> None:
    assert str(Completed()) == "Completed()"
    assert str(Failed(message="boom")) == "Failed('boom')"
    assert str(Completed(name="Cached")) == "Cached(type=COMPLETED)"
    assert str(Failed(name="TimedOut", message="slow")) == "TimedOut('slow', type=FAILED)"


def test_repr_includes_result() -> None:
    assert repr(Completed(data=42)) == "Completed(message=None, type=COMPLETED, result=42)"


def test_result_of_completed_returns_data() -> None:
    assert Completed(data=[1, 2]).result() == [1, 2]


def test_result_of_failed_raises_the_stored_exception() -> None:
    exc = ValueError("boom")
    state = Failed(data=exc)
    with pytest.raises(ValueError, match="boom"):
        state.result()
    assert state.result(raise_on_failure=False) is exc


@pytest.mark.parametrize(
    ("state", "error"),
    [
        (Failed(message="m"), FailedRun),
        (Crashed(message="m"), CrashedRun),
        (Cancelled(message="m"), CancelledRun),
    ],
)
def test_result_without_exception_raises_run_error(state: State[object], error: type) -> None:
    with pytest.raises(error, match="m"):
        state.result()


def test_result_of_unfinished_state_raises() -> None:
    with pytest.raises(UnfinishedRun, match="RUNNING"):
        Running().result()


def test_aggregate_state_raises_first_failed_member_exception() -> None:
    member = Failed(data=KeyError("k"))
    member.state_details.task_run_id = uuid4()
    outer = Failed(message="1/2 states failed.", data=[Completed(data=1), member])
    assert isinstance(get_state_exception(outer), KeyError)


def test_scheduled_time_defaults_to_now() -> None:
    assert Scheduled().state_details.scheduled_time is not None
