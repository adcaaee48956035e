"""Input annotations under Prefect's import path.

``from baton.utilities.annotations import quote`` works as in Prefect.

The implementation lives in ``baton._engine.annotations``.
"""

from __future__ import annotations

from baton._engine.annotations import BaseAnnotation, allow_failure, quote, unmapped

__all__ = ["BaseAnnotation", "allow_failure", "quote", "unmapped"]
