"""Baton: Prefect-style workflow orchestration that lives entirely inside Kubernetes."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
