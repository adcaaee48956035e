"""Blocks: typed, named configuration with secret fields (Prefect 3's ``prefect.blocks``).

``from baton.blocks.core import Block`` (or ``from baton.blocks import Block``) to write a
block type; ``baton.blocks.system`` has ``Secret``, ``String`` and ``JSON``. Where a
block is stored: docs/blocks.md.
"""

from __future__ import annotations

from baton.blocks.core import Block, UnknownBlockType

__all__ = ["Block", "UnknownBlockType"]
