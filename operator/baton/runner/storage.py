"""``GitRepository`` for ``Flow.from_source`` (Prefect's ``prefect.runner.storage``)."""

from __future__ import annotations

from baton.git_source import GitRepository

__all__ = ["GitRepository"]
