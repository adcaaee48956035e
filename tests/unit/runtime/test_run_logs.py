"""The kept run log's pure parts: the line format, the chunk plan and its cap, the reader."""

from __future__ import annotations

import json
import logging

import pytest

from baton.run_logs import (
    ANNOTATION_CHUNK,
    ANNOTATION_DROPPED_BYTES,
    ANNOTATION_DROPPED_LINES,
    DATA_KEY,
    LABEL_LOG_OF,
    Chunk,
    LogEntry,
    kept_log_from,
    log_line,
    plan_chunks,
)

pytestmark = pytest.mark.unit


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("baton.task_runs", logging.WARNING, __file__, 1, message, None, None)
    rec.created = 1767268800.25  # 2026-01-01T12:00:00.250Z
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_carries_time_level_task_and_message() -> None:
    line = log_line(record("disk at 91%", task_run_name="check-a1b", flow_run_name="r"))
    assert json.loads(line) == {
        "ts": "2026-01-01T12:00:00.250Z",
        "level": "WARNING",
        "task": "check-a1b",
        "flow": "r",
        "logger": "baton.task_runs",
        "msg": "disk at 91%",
    }
    entry = LogEntry.parse(line)
    assert (
        entry.render() == "2026-01-01 12:00:00.250 | WARNING | Task run 'check-a1b' - disk at 91%"
    )
    assert entry.of_task("check-a1b") and entry.of_task("check") and not entry.of_task("che")


def test_a_huge_message_is_cut_visibly() -> None:
    entry = LogEntry.parse(log_line(record("x" * 100_000)))
    assert len(entry.message) < 17_000 and entry.message.endswith("(line truncated by Baton)")


def test_lines_fill_chunks_in_order() -> None:
    plan = plan_chunks([], [f"line {i:03d}" for i in range(30)], chunk_bytes=100, max_chunks=10)
    assert [c.seq for c in plan.chunks] == [0, 1, 2]  # 11 lines of 9 bytes each
    assert all(c.size <= 100 for c in plan.chunks)
    assert [line for c in plan.chunks for line in c.lines] == [f"line {i:03d}" for i in range(30)]
    assert plan.write == plan.chunks and not plan.delete and plan.dropped_lines == 0


def test_the_cap_drops_the_oldest_chunks_and_counts_them() -> None:
    written = [Chunk(0, ["a" * 50], 51, written=True), Chunk(1, ["b" * 50], 51, written=True)]
    plan = plan_chunks(written, ["c" * 50, "d" * 50], chunk_bytes=60, max_chunks=2)
    assert [c.seq for c in plan.chunks] == [2, 3]
    assert [c.seq for c in plan.delete] == [0, 1]  # only chunks that exist are deleted
    assert (plan.dropped_lines, plan.dropped_bytes) == (2, 102)
    # A batch larger than the cap never writes what it would drop at once.
    plan = plan_chunks([], ["e" * 50] * 10, chunk_bytes=60, max_chunks=2)
    assert [c.seq for c in plan.write] == [8, 9] and not plan.delete
    assert plan.dropped_lines == 8
    # Appending to a chunk that is not full rewrites only that one.
    plan = plan_chunks([Chunk(0, ["a"], 2, written=True)], ["b"], chunk_bytes=60, max_chunks=2)
    assert [c.seq for c in plan.write] == [0] and plan.chunks[0].lines == ["a", "b"]


def test_the_reader_orders_chunks_and_sums_what_was_dropped() -> None:
    def chunk(attempt: int, seq: int, lines: list[str], dropped: int, uid: str = "u1") -> dict:
        return {
            "metadata": {
                "labels": {LABEL_LOG_OF: uid, "baton.dev/attempt": str(attempt)},
                "annotations": {
                    ANNOTATION_CHUNK: str(seq),
                    ANNOTATION_DROPPED_LINES: str(dropped),
                    ANNOTATION_DROPPED_BYTES: str(dropped * 10),
                },
                "ownerReferences": [{"uid": uid}],
            },
            "data": {DATA_KEY: "".join(line + "\n" for line in lines)},
        }

    items = [
        chunk(2, 0, [log_line(record("second try"))], 0),
        chunk(1, 11, [log_line(record("late"))], 5),
        chunk(1, 10, [log_line(record("early"))], 3),
        chunk(1, 0, [log_line(record("someone else's"))], 0, uid="other"),
    ]
    kept = kept_log_from(items, "u1")
    assert [e.message for e in kept.entries] == ["early", "late", "second try"]
    assert (kept.chunks, kept.dropped_lines, kept.dropped_bytes) == (3, 5, 50)
    assert kept.marker() is not None and "5 lines (50 bytes) dropped" in kept.marker()  # type: ignore[operator]
