"""Helpers for users' own tests of their flows, under Prefect's import path ``prefect.testing``."""
