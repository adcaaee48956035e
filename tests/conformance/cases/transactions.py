"""Transactions: rollback of completed task runs when the block fails, commit hooks,
get/set and nesting, commit-hook errors, and idempotency by key."""

from __future__ import annotations

from casekit import count, counts, describe_error, describe_state, outcome, run_logs
from prefect import flow, task
from prefect.transactions import get_transaction, transaction


def case_transaction_rollback_on_failure() -> dict:
    @task
    def write(name: str) -> str:
        count(f"write:{name}")
        return name

    @write.on_rollback
    def undo(txn) -> None:
        count(f"undo:{txn.get('who', 'nobody')}")

    @write.on_commit
    def done(txn) -> None:
        count("commit")

    @task
    def explode() -> None:
        raise ValueError("explode")

    @flow
    def failing() -> None:
        with transaction() as txn:
            txn.set("who", "flow")
            write("a")
            write("b")
            explode()

    @flow
    def succeeding() -> str:
        with transaction() as txn:
            txn.set("who", "flow")
            return write("c")

    return {
        "failing": outcome(failing),
        "succeeding": outcome(succeeding),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_task_commit_hook_without_a_transaction() -> dict:
    def committed(txn) -> None:
        count("committed")

    def rolled(txn) -> None:
        count("rolled back")

    def completed(task, task_run, state) -> None:
        count("on_completion")

    @task(on_completion=[completed])
    def ok() -> int:
        return 1

    @task
    def bad() -> int:
        raise ValueError("bad")

    ok.on_commit(committed)
    ok.on_rollback(rolled)
    bad.on_commit(committed)
    bad.on_rollback(rolled)

    @flow
    def main() -> list:
        return [ok(), describe_state(bad(return_state=True))]

    return {"outcome": outcome(main), "counts": counts(), "logs": run_logs()}


def case_transaction_get_set_and_nesting() -> dict:
    def scenario() -> dict:
        seen = {}
        with transaction() as outer:
            outer.set("x", [1, 2])
            value = outer.get("x")
            value.append(3)
            seen["copy"] = outer.get("x")
            with transaction() as inner:
                seen["inherited"] = inner.get("x")
                inner.set("x", "inner")
                seen["inner"] = inner.get("x")
                seen["active_is_inner"] = get_transaction() is inner
            seen["outer_after"] = outer.get("x")
            seen["default"] = outer.get("missing", "dflt")
            seen["state_inside"] = outer.state.name
            try:
                outer.get("missing")
            except ValueError as exc:
                seen["missing"] = describe_error(exc)
        seen["state_after"] = outer.state.name
        seen["inner_after"] = inner.state.name
        seen["none_active"] = get_transaction() is None
        return seen

    return {"outcome": outcome(scenario)}


def case_transaction_hooks_order_and_errors() -> dict:
    @task
    def step(n: int) -> int:
        return n

    @step.on_rollback
    def undo(txn) -> None:
        count("undo")

    def angry_commit(txn) -> None:
        count("angry commit")
        raise RuntimeError("commit hook failed")

    @task
    def angry() -> int:
        return 0

    angry.on_commit(angry_commit)

    @angry.on_rollback
    def angry_undone(txn) -> None:
        count("angry undone")

    @flow
    def main() -> dict:
        with transaction() as txn:
            step(1)
            angry()
        return {"committed": txn.is_committed(), "state": txn.state.name}

    # No log lines: Prefect names the failed child transaction by its cache key (a hash).
    return {"outcome": outcome(main), "counts": counts()}


def case_keyed_transaction_is_idempotent() -> dict:
    def scenario() -> list:
        seen = []
        for _ in range(2):
            with transaction(key="txn-case-key") as txn:
                seen.append(txn.is_committed())
                if not txn.is_committed():
                    count("work")
                    txn.stage("result")
        with transaction(key="txn-case-key", overwrite=True) as txn:
            seen.append(txn.is_committed())
        return seen

    return {"outcome": outcome(scenario), "counts": counts()}
