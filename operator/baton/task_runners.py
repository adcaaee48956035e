"""Task runners under Prefect's import path.

``from baton.task_runners import ThreadPoolTaskRunner`` works as in Prefect.

The implementation lives in ``baton._engine.task_runner``.
"""

from __future__ import annotations

from baton._engine.task_runner import TaskRunner, ThreadPoolTaskRunner

__all__ = ["TaskRunner", "ThreadPoolTaskRunner"]
