"""The smallest flow: one task, a parameter, a log line."""

from __future__ import annotations

from baton import flow, get_run_logger, task


@task
def greet(name: str) -> str:
    return f"Hello, {name}!"


@flow(log_prints=True)
def hello(name: str = "world") -> str:
    message = greet(name)
    get_run_logger().info(message)
    return message


if __name__ == "__main__":
    hello()
