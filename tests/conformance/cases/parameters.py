"""Flow parameters: pydantic coercion, validation errors naming the field, defaults."""

from __future__ import annotations

from datetime import date

from casekit import count, counts, describe_state, outcome, run_logs
from prefect import flow, task
from prefect.runtime import flow_run
from pydantic import BaseModel


class Window(BaseModel):
    start: date
    days: int = 1


# Baton passes default values through unvalidated (docs/sdk.md, "Where Baton deliberately
# differs"): `def f(limit: int = None)` runs instead of failing.
DIFFERENCES = {
    "case_default_parameter_values": {
        "state": {
            "prefect": {
                "type": "FAILED",
                "name": "Failed",
                "message": "Validation of flow parameters failed with error: ParameterTypeError: "
                "Flow run received invalid parameters:\n - limit: Input should be a valid integer",
            },
            "baton": {"type": "COMPLETED", "name": "Completed", "message": None},
            "why": "compatibility.md#defaults-are-not-validated",
        },
        "outcome": {
            "prefect": {
                "raised": {
                    "error": "ParameterTypeError",
                    "message": "Flow run received invalid parameters:\n - limit: "
                    "Input should be a valid integer",
                }
            },
            "baton": {"returned": {"limit": None, "tags": []}},
            "why": "compatibility.md#defaults-are-not-validated",
        },
    }
}


def _type_names(values: dict) -> dict:
    return {name: type(value).__name__ for name, value in values.items()}


def case_parameters_coerced_to_annotations() -> dict:
    @flow
    def main(x: int, ratio: float, flags: list[bool], window: Window, day: date) -> dict:
        values = {"x": x, "ratio": ratio, "flags": flags, "window": window, "day": day}
        return {
            "types": _type_names(values),
            "x": x,
            "ratio": ratio,
            "flags": flags,
            "window_days": window.days,
            "day": day.isoformat(),
        }

    return outcome(
        main,
        x="3",
        ratio="0.5",
        flags=["true", "0", 1],
        window={"start": "2024-01-31", "days": "7"},
        day="2024-02-29",
    )


def case_invalid_parameter_fails_before_any_task() -> dict:
    @task
    def work() -> None:
        count("work")

    @flow
    def main(x: int, name: str = "n") -> None:
        count("main")
        work()

    state = main(x="not a number", return_state=True)
    result = outcome(main, x="not a number")
    return {
        "state": describe_state(state),
        "names_field": " - x: Input should be a valid integer" in (state.message or ""),
        "raised": result["raised"],
        "counts": counts(),
    }


def case_invalid_parameters_not_retried() -> dict:
    def failed(flow, flow_run, state) -> None:
        count("on_failure")

    @flow(retries=2, retry_delay_seconds=0, on_failure=[failed])
    def main(x: int) -> int:
        count("main")
        return x

    state = main(x="nope", return_state=True)
    return {"state": describe_state(state), "counts": counts(), "logs": run_logs()}


def case_missing_parameter() -> dict:
    @flow
    def main(x: int, y: int) -> int:
        return x + y

    try:
        main(1)
    except TypeError as exc:
        return {
            "is_type_error": True,
            "error": type(exc).__name__,
            "first_line": str(exc).splitlines()[0],
        }
    return {"is_type_error": False}


def case_validate_parameters_false() -> dict:
    @flow(validate_parameters=False)
    def main(x: int) -> str:
        return type(x).__name__

    return outcome(main, "3")


def case_default_parameter_values() -> dict:
    @flow
    def main(limit: int = None, tags: list[str] = ()) -> dict:  # noqa: RUF013 - on purpose
        return {"limit": limit, "tags": list(tags)}

    state = main(return_state=True)
    return {"state": describe_state(state), "outcome": outcome(main)}


def case_parameters_seen_by_runtime() -> dict:
    @flow
    def main(x: int, label: str = "default") -> dict:
        return flow_run.parameters

    return outcome(main, "5")


def case_validate_parameters_fills_defaults() -> dict:
    @flow
    def f(x: int, y: int = 2, z: str = "zed") -> int:
        return x

    @flow(validate_parameters=False)
    def g(x: int, y: int = 2) -> int:
        return x

    return {
        "some": outcome(f.validate_parameters, {"x": "1"}),
        "all": outcome(f.validate_parameters, {"x": 1, "y": "3", "z": "a"}),
        "unvalidated": outcome(g.validate_parameters, {"x": "1"}),
        "missing": outcome(f.validate_parameters, {}),
    }
