"""Transactions, as ``prefect.transactions``: task runs that commit or roll back together.

``with transaction() as txn:`` opens a transaction; every task run that completes inside
it becomes a child transaction, *staged* with the task's ``on_commit`` and
``on_rollback`` hooks. When the block ends normally the transaction commits (children
first, then its own commit hooks); when it raises, or a task run inside it fails, it
rolls back: its rollback hooks, then its children's, newest first. ``txn.set(name,
value)``/``txn.get(name, default)`` share values with the hooks (a child reads its
parent's values). A task run outside any transaction commits on its own as soon as it
completes, so its ``on_commit`` hooks run then (before its ``on_completion`` hooks, as in
Prefect) and its ``on_rollback`` hooks never do.

Commit modes are Prefect's: ``LAZY`` (the default: the outermost transaction commits
everything at its end), ``EAGER`` (each transaction commits at its own end) and ``OFF``
(nothing commits unless ``commit()`` is called; the outermost rolls back). A ``key``
makes a transaction idempotent: its staged value is written to the task cache store on
commit, and a later ``transaction(key=...)`` starts out committed (``overwrite=True``
starts afresh). Only ``READ_COMMITTED`` isolation exists: ``SERIALIZABLE`` needs locks
Baton does not have and is refused.

The engine asks ``get_transaction()`` once per task run; with no transaction open and no
``on_commit`` hook, a task run pays nothing else.
"""

from __future__ import annotations

import copy
import enum
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "CommitMode",
    "IsolationLevel",
    "Transaction",
    "TransactionState",
    "get_transaction",
    "transaction",
]

_NOT_SET: Any = object()
Hook = Callable[["Transaction"], object]


class CommitMode(enum.Enum):
    """When a transaction commits (see the module docstring)."""

    EAGER = "EAGER"
    LAZY = "LAZY"
    OFF = "OFF"


class IsolationLevel(enum.Enum):
    """Prefect's isolation levels; Baton supports ``READ_COMMITTED`` only."""

    READ_COMMITTED = "READ_COMMITTED"
    SERIALIZABLE = "SERIALIZABLE"


class TransactionState(enum.Enum):
    """Where a transaction is in its life."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


_active: ContextVar[Transaction | None] = ContextVar("baton_transaction", default=None)


class Transaction:
    """One transaction; make it with ``transaction()`` (or as a context manager).

    Args:
        key: Makes the transaction idempotent (a record in the cache store on commit).
        store: The store of that record (default: the task cache store); it needs
            ``get(key, now=...)`` and ``put(record)``, as ``baton._engine.cache_store``'s.
        commit_mode: ``EAGER``, ``LAZY`` or ``OFF``; default: the parent's, else ``LAZY``.
        isolation_level: ``READ_COMMITTED`` (``SERIALIZABLE`` raises ``ValueError``).
        overwrite: Ignore an existing record for ``key``.
        write_on_commit: Write the record on commit (with a ``key``).
        logger: Where the hooks' lines go (default: the run logger, if in a run).
    """

    def __init__(  # noqa: PLR0917 - Prefect's signature
        self,
        key: str | None = None,
        store: Any = None,
        commit_mode: CommitMode | None = None,
        isolation_level: IsolationLevel | None = None,
        overwrite: bool = False,
        write_on_commit: bool = True,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        if isolation_level is IsolationLevel.SERIALIZABLE:
            raise ValueError(
                "Baton transactions support READ_COMMITTED isolation only: SERIALIZABLE needs "
                "a lock manager Baton does not have (docs/compatibility.md)."
            )
        self.key = key
        self.store = store
        self.commit_mode = commit_mode
        self.isolation_level = isolation_level or IsolationLevel.READ_COMMITTED
        self.overwrite = overwrite
        self.write_on_commit = write_on_commit
        self.logger = logger or logging.getLogger("baton.transactions")
        self.state = TransactionState.PENDING
        self.children: list[Transaction] = []
        self.on_commit_hooks: list[Hook] = []
        self.on_rollback_hooks: list[Hook] = []
        self._stored_values: dict[str, Any] = {}
        self._staged_value: Any = None
        self._parent: Transaction | None = None
        self._token: Token[Transaction | None] | None = None

    # -- values shared with hooks -------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Store ``value`` under ``name`` for this transaction (and its children)."""
        self._stored_values[name] = value

    def get(self, name: str, default: Any = _NOT_SET) -> Any:
        """A copy of the value stored under ``name`` here, else in a parent, else ``default``.

        Raises:
            ValueError: No such value and no default.
        """
        if name in self._stored_values:
            return copy.deepcopy(self._stored_values[name])  # a change needs set()
        if self._parent is not None:
            return self._parent.get(name, default)
        if default is not _NOT_SET:
            return default
        raise ValueError(f"Could not retrieve value for unknown key: {name}")

    def is_committed(self) -> bool:
        """Whether the transaction committed (or its key's record already existed)."""
        return self.state is TransactionState.COMMITTED

    def is_rolled_back(self) -> bool:
        """Whether the transaction rolled back."""
        return self.state is TransactionState.ROLLED_BACK

    def is_staged(self) -> bool:
        """Whether a value is staged, waiting for the commit."""
        return self.state is TransactionState.STAGED

    def is_pending(self) -> bool:
        """Whether the transaction has not begun."""
        return self.state is TransactionState.PENDING

    def is_active(self) -> bool:
        """Whether the transaction is open and nothing is staged yet."""
        return self.state is TransactionState.ACTIVE

    def get_parent(self) -> Transaction | None:
        """The enclosing transaction, if any."""
        return self._parent

    def add_child(self, child: Transaction) -> None:
        """Make ``child`` commit and roll back with this transaction."""
        self.children.append(child)

    def stage(
        self,
        value: Any,
        on_rollback_hooks: list[Hook] | None = None,
        on_commit_hooks: list[Hook] | None = None,
    ) -> None:
        """Stage ``value`` (and hooks) for the commit; nothing happens if already committed."""
        if self.state is not TransactionState.COMMITTED:
            self._staged_value = value
            self.on_rollback_hooks += on_rollback_hooks or []
            self.on_commit_hooks += on_commit_hooks or []
            self.state = TransactionState.STAGED

    def read(self) -> Any:
        """The value committed under this transaction's key, or ``None``."""
        record = self._record()
        if record is None:
            return None
        from baton._engine.cache_store import deserialize  # noqa: PLC0415 - keyed only

        return deserialize(record.payload, record.serializer)

    # -- life cycle -----------------------------------------------------------------
    def __enter__(self) -> Transaction:
        if self._token is not None:
            raise RuntimeError("Context already entered. Context enter calls cannot be nested.")
        parent = _active.get()
        self._parent = parent
        if self.commit_mode is None:
            self.commit_mode = parent.commit_mode if parent else CommitMode.LAZY
        self.state = TransactionState.ACTIVE
        if self.key and not self.overwrite and self._record() is not None:
            self.state = TransactionState.COMMITTED
        self._token = _active.set(self)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._token is None:
            raise RuntimeError("Asymmetric use of context. Context exit called without an enter.")
        if exc_type is not None:
            self.rollback()
            self.reset()
            return  # the exception propagates
        if self.commit_mode is CommitMode.EAGER:
            self.commit()
        if self._parent is not None:  # the parent takes responsibility
            self.reset()
            return
        if self.commit_mode is CommitMode.OFF:
            self.rollback()  # nobody committed: roll back (a no-op once committed)
        elif self.commit_mode is CommitMode.LAZY:
            self.commit()
        self.reset()

    def reset(self) -> None:
        """Leave the transaction: hand it to the parent, and roll the parent back with it."""
        parent = self._parent
        if parent is not None:
            parent.add_child(self)
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        if parent is not None and self.state is TransactionState.ROLLED_BACK:
            parent.rollback()

    def commit(self) -> bool:
        """Commit the children, run the commit hooks, write the keyed record.

        An error in a hook is logged and rolls this transaction back.

        Returns:
            Whether this call committed it.
        """
        if self.state in (TransactionState.ROLLED_BACK, TransactionState.COMMITTED):
            return False
        try:
            for child in self.children:
                child.commit()
            for hook in self.on_commit_hooks:
                self._run_hook(hook, "commit")
            if self.key and self.write_on_commit:
                self._write_record()
            self.state = TransactionState.COMMITTED
            return True
        except Exception:
            self.logger.error(
                "An error was encountered while committing transaction %r",
                self.key,
                exc_info=True,
            )
            self.rollback()
            return False

    def rollback(self) -> bool:
        """Run the rollback hooks (newest first), then roll the children back (newest first).

        Returns:
            Whether this call rolled it back.
        """
        if self.state in (TransactionState.ROLLED_BACK, TransactionState.COMMITTED):
            return False
        try:
            for hook in reversed(self.on_rollback_hooks):
                self._run_hook(hook, "rollback")
            self.state = TransactionState.ROLLED_BACK
            for child in reversed(self.children):
                child.rollback()
            return True
        except Exception:
            self.logger.error(
                "An error was encountered while rolling back transaction %r",
                self.key,
                exc_info=True,
            )
            return False

    def _run_hook(self, hook: Hook, kind: str) -> None:
        from baton._engine.coroutines import run_coro_sync  # noqa: PLC0415 - cycle-free

        name = getattr(hook, "__name__", repr(hook))
        self.logger.info("Running %s hook %r", kind, name)
        try:
            result = hook(self)
            if inspect.isawaitable(result):
                run_coro_sync(result)
        except Exception:
            self.logger.error("An error was encountered while running %s hook %r", kind, name)
            raise
        self.logger.info("%s hook %r finished running successfully", kind.capitalize(), name)

    # -- the keyed record -----------------------------------------------------------
    def _store(self) -> Any:
        if self.store is not None:
            return self.store
        from baton._engine.cache_store import get_cache_store  # noqa: PLC0415 - keyed only

        return get_cache_store()

    def _record(self) -> Any:
        from baton._engine.clock import get_clock  # noqa: PLC0415

        assert self.key is not None
        return self._store().get(self.key, now=get_clock().now())

    def _write_record(self) -> None:
        from baton._engine.cache_store import (  # noqa: PLC0415 - keyed only
            CacheRecord,
            serialize,
            storable_serializer,
        )
        from baton._engine.clock import get_clock  # noqa: PLC0415

        assert self.key is not None
        store = self._store()
        serializer = storable_serializer(self._staged_value, "pickle", store)
        if serializer is None:
            self.logger.warning(
                "Transaction %r was committed without a record: the store keeps plain JSON "
                "values only (docs/security.md)",
                self.key,
            )
            return
        payload = serialize(self._staged_value, serializer)
        store.put(CacheRecord(self.key, payload, serializer, get_clock().now(), None))


def get_transaction() -> Transaction | None:
    """The innermost open transaction, or ``None``."""
    return _active.get()


@contextmanager
def transaction(  # noqa: PLR0917 - Prefect's signature
    key: str | None = None,
    store: Any = None,
    commit_mode: CommitMode | None = None,
    isolation_level: IsolationLevel | None = None,
    overwrite: bool = False,
    write_on_commit: bool = True,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> Iterator[Transaction]:
    """Open a transaction for the block (the arguments are ``Transaction``'s).

    Example:
        >>> with transaction() as txn:
        ...     txn.set("table", "staging")
        ...     load()        # a task whose on_rollback hook drops txn.get("table")
        ...     validate()    # raises: load's rollback hook runs
    """
    if logger is None:
        from baton._engine.run_logger import get_run_logger  # noqa: PLC0415
        from baton.exceptions import MissingContextError  # noqa: PLC0415

        try:
            logger = get_run_logger()
        except MissingContextError:
            logger = logging.getLogger("baton.transactions")
    with Transaction(
        key=key,
        store=store,
        commit_mode=commit_mode,
        isolation_level=isolation_level,
        overwrite=overwrite,
        write_on_commit=write_on_commit,
        logger=logger,
    ) as txn:
        yield txn
