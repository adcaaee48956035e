"""Terminal rendering: tables, times, artifacts, `describe` and `runs` output (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from baton.cli import render
from baton.cli.describe import describe_run
from baton.cli.runs import StatePrinter, runs_table

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_tables_align_like_kubectl() -> None:
    out = render.table(["NAME", "STATE"], [["a-long-name", "Completed"], ["b", None]])
    assert out.splitlines() == ["NAME          STATE", "a-long-name   Completed", "b"]
    long = render.table(["X"], [["y" * 100]])
    assert long.splitlines()[1].endswith("…") and len(long.splitlines()[1]) == render.MAX_CELL


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (3 * 86400, "3d")],
)
def test_age(seconds: int, text: str) -> None:
    assert render.age(NOW - timedelta(seconds=seconds), NOW) == text


def test_times_and_durations() -> None:
    assert render.age(NOW + timedelta(minutes=5), NOW) == "in 5m"
    assert render.age(None) == "-"
    assert render.timestamp("2026-03-01T11:55:00Z", NOW) == "2026-03-01 11:55:00 UTC (5m ago)"
    assert render.timestamp(None) == "-"
    assert render.duration("2026-03-01T11:00:00Z", "2026-03-01T11:00:02.5Z") == "2.5s"
    assert render.duration("2026-03-01T11:00:00Z", "2026-03-01T11:00:42Z") == "42s"
    assert render.duration("2026-03-01T11:00:00Z", "2026-03-01T12:01:05Z") == "1h1m5s"
    assert render.duration(None, "2026-03-01T11:00:00Z") == "-"


def test_markdown_becomes_plain_text() -> None:
    text = "# ETL 2026\n\nLoaded **3** of _5_ rows, see [the board](https://x.io/b).\n- one\n`code`"
    assert render.markdown_text(text).splitlines() == [
        "ETL 2026",
        "========",
        "",
        "Loaded 3 of 5 rows, see the board (https://x.io/b).",
        "• one",
        "code",
    ]
    assert render.markdown_text("## Sub") == "Sub\n---"


@pytest.mark.parametrize(
    "data",
    [
        [{"order": 1, "amount": 10}, {"order": 22, "amount": 5, "note": "x"}],
        {"order": [1, 22], "amount": [10, 5], "note": [None, "x"]},
    ],
)
def test_tables_of_rows_or_columns(data: object) -> None:
    lines = render.table_text(data).splitlines()
    assert lines[0].split() == ["order", "amount", "note"]
    assert lines[1].split() == ["1", "10"]
    assert lines[2].split() == ["22", "5", "x"]


def test_table_of_lists_and_long_tables() -> None:
    assert render.table_text([[1, 2], [3, 4]]).splitlines() == ["0   1", "1   2", "3   4"]
    long = render.table_text([{"i": i} for i in range(25)])
    assert long.splitlines()[-1] == "… 5 more row(s)"
    assert render.table_text([]) == "(empty table)"


def test_artifacts_by_type() -> None:
    def text(kind: str, data: str, **extra: object) -> str:
        return render.artifact_text({"type": kind, "data": data, **extra})

    assert text("progress", "50.0") == "[##########..........] 50%"
    assert text("progress", "100") == "[####################] 100%"
    assert text("link", "[Board](https://x.io)") == "Board: https://x.io"
    assert text("link", "https://x.io") == "https://x.io"
    assert text("table", json.dumps([{"a": 1}])).splitlines() == ["a", "1"]
    assert text("markdown", "**hi**") == "hi"
    assert text("image", "https://x.io/i.png") == "https://x.io/i.png"
    truncated = text("markdown", "abc", truncated=True, configMap="cm-1")
    assert truncated.endswith("(truncated; full content in ConfigMap cm-1)")
    title = render.artifact_title({"key": "k", "type": "table", "description": "**rows**"})
    assert title == "k [table] — rows"


RUN = {
    "metadata": {"name": "etl-1", "namespace": "ns", "creationTimestamp": "2026-03-01T11:58:00Z"},
    "spec": {
        "deploymentRef": {"name": "etl"},
        "parameters": {"day": "2026-03-01", "budget": 60},
        "scheduledTime": "2026-03-01T11:58:00Z",
    },
    "status": {
        "state": "Failed",
        "reason": "Reported",
        "message": "Flow run encountered an exception",
        "attempts": 1,
        "workPool": "demo",
        "worker": "host-42",
        "duration": "3s",
        "startTime": "2026-03-01T11:58:01Z",
        "endTime": "2026-03-01T11:58:04Z",
        "history": [
            {"state": "Pending", "reason": "AwaitingWorker", "timestamp": "2026-03-01T11:58:00Z"},
            {"state": "Running", "reason": "Started", "timestamp": "2026-03-01T11:58:01Z"},
            {"state": "Failed", "reason": "Reported", "timestamp": "2026-03-01T11:58:04Z"},
        ],
        "taskRuns": {
            "total": 12,
            "counts": {"Completed": 10, "Failed": 2},
            "items": [
                {
                    "name": "load-1",
                    "state": "Failed",
                    "startTime": "2026-03-01T11:58:02Z",
                    "endTime": "2026-03-01T11:58:03Z",
                    "message": "boom",
                }
            ],
            "omitted": 11,
        },
        "artifacts": [{"key": "report", "type": "markdown", "data": "# Report"}],
        "error": {
            "type": "ZeroDivisionError",
            "message": "division by zero",
            "traceback": 'File "f.py", line 3\n    return a / b',
        },
    },
}


def test_describe_shows_state_timing_tasks_artifacts_and_error() -> None:
    text = describe_run(RUN, NOW)
    lines = text.splitlines()
    for expected in (
        "Name:       etl-1",
        "State:      Failed (Reported)",
        "Message:    Flow run encountered an exception",
        "Scheduled:  2026-03-01 11:58:00 UTC (2m ago)",
        "Duration:   3s",
        "Worker:     host-42",
        "Work pool:  demo",
        '  day = "2026-03-01"',
        "  budget = 60",
        "Task runs:  12 (Completed 10, Failed 2)",
        "  … 11 more task run(s) not listed",
        "  report [markdown]",
        "    Report",
        "Error:      ZeroDivisionError: division by zero",
        "        return a / b",
    ):
        assert expected in lines, f"{expected!r} not in:\n{text}"
    assert any(line.split()[:3] == ["load-1", "Failed", "1.0s"] for line in lines)
    assert any(line.split()[1:3] == ["Running", "Started"] for line in lines)


def test_describe_of_a_new_run() -> None:
    text = describe_run({"metadata": {"name": "r"}, "spec": {"flowRef": {"name": "f"}}}, NOW)
    assert "State:      New" in text
    assert "Source:     flow f (ad-hoc)" in text
    assert "Parameters: (none; the deployment's defaults apply)" in text


def test_runs_table() -> None:
    out = runs_table([RUN], all_namespaces=True, now=NOW).splitlines()
    assert out[0].split() == [
        "NAMESPACE",
        "NAME",
        "DEPLOYMENT",
        "STATE",
        "SCHEDULED",
        "DURATION",
        "TASKS",
        "AGE",
    ]
    assert out[1].split() == [
        "ns",
        "etl-1",
        "etl",
        "Failed",
        "2026-03-01",
        "11:58:00",
        "3s",
        "12",
        "2m",
    ]


def test_watch_prints_states_missed_between_polls_once() -> None:
    printer = StatePrinter()
    first = printer.lines({"status": {}})
    assert [line.split(maxsplit=1)[1] for line in first] == ["New"]
    done = printer.lines(RUN)
    states = [line.split()[1] for line in done]
    assert states == ["Pending", "Running", "Failed"]  # from the history
    assert printer.lines(RUN) == []  # nothing new
