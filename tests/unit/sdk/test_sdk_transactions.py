"""Transactions: what the conformance cases do not cover (commit modes, async hooks,
refused isolation, submitted task runs, the cost-free path without a transaction)."""

from __future__ import annotations

from typing import Any

import pytest

from baton import flow, task
from baton.transactions import (
    CommitMode,
    IsolationLevel,
    Transaction,
    TransactionState,
    get_transaction,
    transaction,
)

pytestmark = pytest.mark.unit


def _recorder() -> tuple[list[str], Any]:
    seen: list[str] = []

    @task
    def step(name: str) -> str:
        return name

    @step.on_commit
    def committed(txn: Transaction) -> None:
        seen.append(f"commit:{txn._staged_value}")

    @step.on_rollback
    async def rolled_back(txn: Transaction) -> None:  # async hooks run to their end
        seen.append(f"rollback:{txn._staged_value}")

    return seen, step


def test_lazy_commits_at_the_outermost_end_and_eager_at_each_end() -> None:
    seen, step = _recorder()

    @flow
    def main() -> None:
        with transaction():
            with transaction():
                step("a")
            seen.append("inner closed")
        with transaction(commit_mode=CommitMode.EAGER):
            with transaction():
                step("b")
            seen.append("eager inner closed")

    main()
    assert seen == ["inner closed", "commit:a", "commit:b", "eager inner closed"]


def test_commit_mode_off_rolls_back_unless_committed_by_hand() -> None:
    seen, step = _recorder()

    @flow
    def main() -> None:
        with transaction(commit_mode=CommitMode.OFF):
            step("dropped")
        with transaction(commit_mode=CommitMode.OFF) as txn:
            step("kept")
            txn.commit()

    main()
    assert seen == ["rollback:dropped", "commit:kept"]


def test_submitted_task_runs_join_the_transaction_of_the_submitting_flow() -> None:
    seen, step = _recorder()

    @task
    def explode() -> None:
        raise ValueError("no")

    @flow
    def main() -> None:
        with transaction():
            step.submit("threaded").wait()
            explode()

    with pytest.raises(ValueError, match="no"):
        main()
    assert seen == ["rollback:threaded"]


def test_serializable_isolation_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="READ_COMMITTED"):
        transaction(isolation_level=IsolationLevel.SERIALIZABLE).__enter__()


def test_a_task_run_outside_a_transaction_makes_none() -> None:
    made: list[Transaction] = []

    @task
    def plain() -> Transaction | None:
        return get_transaction()

    @flow
    def main() -> Transaction | None:
        return plain()

    assert main() is None and made == []
    with transaction() as txn:
        assert get_transaction() is txn
    assert txn.state is TransactionState.COMMITTED and get_transaction() is None
