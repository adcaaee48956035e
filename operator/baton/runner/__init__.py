"""Prefect's ``prefect.runner`` import paths that Baton provides (``storage``)."""
