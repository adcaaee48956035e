"""Deterministic FlowRun names: stable, unique per (deployment, second), DNS- and label-safe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from schedule_helpers import utc

from baton.schedules import MAX_NAME_LENGTH, flow_run_name

pytestmark = pytest.mark.unit

LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def test_seconds_since_epoch() -> None:
    assert flow_run_name("etl", utc(2025, 11, 21, 12)) == "etl-1763726400"


def test_stable_and_second_resolution() -> None:
    when = utc(2026, 3, 8, 7, 0, 30)
    assert flow_run_name("etl", when) == flow_run_name("etl", when)
    # sub-second parts do not change the name; the next second does
    assert flow_run_name("etl", when + timedelta(microseconds=999_999)) == flow_run_name(
        "etl", when
    )
    assert flow_run_name("etl", when + timedelta(seconds=1)) != flow_run_name("etl", when)


def test_unique_across_deployments_and_times() -> None:
    deployments = ["etl", "etl-1", "etl.v2", "a" * 60, "a" * 61, "a" * 60 + "b", "x" * 253]
    times = [utc(2026, 1, 1) + timedelta(seconds=s) for s in (0, 1, 59, 60, 3600, 86400)]
    names = [flow_run_name(d, t) for d in deployments for t in times]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("length", [1, 52, 53, 100, 253])
def test_length_bound_and_dns_safety(length: int) -> None:
    deployment = ("ab-c." * 60)[: length - 1] + "z"
    name = flow_run_name(deployment, utc(2026, 1, 1))
    assert len(name) <= MAX_NAME_LENGTH == 63
    assert SUBDOMAIN.fullmatch(name), name
    assert LABEL_VALUE.fullmatch(name), name
    assert name.endswith("-1767225600")


def test_long_names_keep_a_prefix_and_a_hash() -> None:
    long_a = "payments-reconciliation-nightly-" + "a" * 40
    long_b = "payments-reconciliation-nightly-" + "b" * 40
    name_a = flow_run_name(long_a, utc(2026, 1, 1))
    name_b = flow_run_name(long_b, utc(2026, 1, 1))
    assert name_a.startswith("payments-reconciliation-nightly-")
    assert name_a != name_b
    assert re.fullmatch(r".+-[0-9a-f]{8}-1767225600", name_a)
    # the name that just fits is not hashed
    fits = "d" * (63 - len("-1767225600"))
    assert flow_run_name(fits, utc(2026, 1, 1)) == f"{fits}-1767225600"


@pytest.mark.parametrize("bad", ["", "ETL", "etl_", "-etl", "etl-", "a..b"])
def test_invalid_deployment_names(bad: str) -> None:
    with pytest.raises(ValueError, match="DNS-1123"):
        flow_run_name(bad, utc(2026, 1, 1))


def test_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        flow_run_name("etl", utc(2026, 1, 1).replace(tzinfo=None))
