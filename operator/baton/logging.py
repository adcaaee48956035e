"""Run loggers under Prefect's import path.

``from baton.logging import get_run_logger`` (and ``disable_run_logger``) work as in
Prefect. The module
shares its name with the standard library's ``logging`` only as
``baton.logging``; Baton's own modules import the standard one.

The implementation lives in ``baton._engine.run_logger``.
"""

from __future__ import annotations

from baton._engine.run_logger import disable_run_logger, get_run_logger

__all__ = ["disable_run_logger", "get_run_logger"]
