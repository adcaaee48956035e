"""Flows that log a lot, for the kept-log tests: run logger, task logger and prints."""

from __future__ import annotations

import time

from baton import flow, get_run_logger, task


@task
def shout(i: int) -> int:
    get_run_logger().warning("task line %d", i)
    return i


@flow(log_prints=True)
def chatty(lines: int = 20, size: int = 0, per_second: float = 0.0) -> int:
    """``lines`` run-logger lines (padded to ``size`` bytes), paced at ``per_second``;
    one task's line and one print, then a last line naming the end."""
    logger = get_run_logger()
    pad = "x" * max(0, size - 20)
    start = time.monotonic()
    shout(0)
    print("a print from the flow")
    for i in range(lines):
        logger.info("line %06d %s", i, pad)
        if per_second:
            time.sleep(max(0.0, start + (i + 1) / per_second - time.monotonic()))
    logger.info("the last line")
    return lines
