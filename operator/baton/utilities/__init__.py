"""Prefect's ``prefect.utilities`` import path; only ``annotations`` is provided."""
