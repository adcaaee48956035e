"""`baton.deploy.build_manifests`: a flow object to Flow/Deployment/WorkPool, validated first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from baton import flow
from baton.deploy import (
    PROCESS_IMAGE,
    DeployError,
    build_manifests,
    entrypoint_of,
    resource_name,
    to_yaml,
)
from baton.schedules import ScheduleError

pytestmark = pytest.mark.unit


@flow(name="My_ETL")
def my_etl(day: str, budget: int = 100) -> int:
    """Load the day's orders."""
    return budget


def build(**options: object) -> list[dict[str, object]]:
    defaults: dict[str, object] = {
        "name": "etl",
        "entrypoint": "flows/etl.py:my_etl",
        "image": "img:1",
    }
    return build_manifests(my_etl, **{**defaults, **options})  # type: ignore[arg-type]


def test_flow_and_deployment_from_a_flow_object() -> None:
    flow_doc, deployment = build(
        interval="90s", parameters={"day": "2026-01-01"}, pool="gpu", namespace="team"
    )
    assert flow_doc["kind"] == "Flow" and deployment["kind"] == "Deployment"
    assert flow_doc["metadata"] == {"name": "my-etl", "namespace": "team"}
    spec = flow_doc["spec"]
    assert spec["image"] == "img:1" and spec["entrypoint"] == "flows/etl.py:my_etl"  # type: ignore[index]
    assert spec["description"] == "Load the day's orders."  # type: ignore[index]
    assert spec["parameterSchema"]["required"] == ["day"]  # type: ignore[index]
    assert deployment["spec"] == {
        "flowRef": {"name": "my-etl"},
        "workPoolRef": {"name": "gpu"},
        "parameters": {"day": "2026-01-01"},
        "schedules": [{"interval": "90s"}],
    }


@pytest.mark.parametrize(
    ("options", "schedule"),
    [
        (
            {"cron": "0 9 * * *", "timezone": "Europe/Berlin"},
            {"cron": "0 9 * * *", "timezone": "Europe/Berlin"},
        ),
        ({"interval": timedelta(minutes=5)}, {"interval": 300}),
        ({"interval": "30"}, {"interval": 30}),
        ({"interval": 45.0}, {"interval": 45}),
        ({"rrule": "FREQ=DAILY;BYHOUR=9"}, {"rrule": "FREQ=DAILY;BYHOUR=9"}),
        ({}, None),
    ],
)
def test_schedules(options: dict[str, object], schedule: dict[str, object] | None) -> None:
    deployment = build(parameters={"day": "x"}, **options)[-1]
    assert deployment["spec"]["schedules"] == ([schedule] if schedule else [])  # type: ignore[index]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "61 * * * *"}, "61"),
        ({"interval": "1x"}, 'interval "1x"'),
        ({"cron": "* * * * *", "timezone": "Mars/Base"}, "Mars/Base"),
        ({"cron": "* * * * *", "interval": 5}, "exactly one of cron, interval or rrule"),
    ],
)
def test_invalid_schedules_use_the_schedulers_own_message(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message.replace("*", r"\*")):
        build(parameters={"day": "x"}, **options)


def test_validation_before_anything_is_written() -> None:
    with pytest.raises(DeployError, match="'day' is a required property"):
        build()
    with pytest.raises(DeployError, match="budget: 'lots' is not of type 'integer'"):
        build(parameters={"day": "x", "budget": "lots"})
    with pytest.raises(DeployError, match="invalid deployment name 'My ETL'"):
        build(name="My ETL", parameters={"day": "x"})
    with pytest.raises(DeployError, match="invalid flow: entrypoint"):
        build(entrypoint="no-colon", parameters={"day": "x"})
    with pytest.raises(DeployError, match="an image is required"):
        build(image=None, parameters={"day": "x"})
    with pytest.raises(DeployError, match="invalid work pool: type"):
        build(pool_type="lambda", parameters={"day": "x"})
    with pytest.raises(DeployError, match="needs a schedule"):
        build(timezone="UTC", parameters={"day": "x"})


def test_process_pool_and_placeholder_image() -> None:
    pool, flow_doc, _ = build(
        image=None, pool="local", pool_type="process", parameters={"day": "x"}
    )
    assert pool == {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "WorkPool",
        "metadata": {"name": "local"},
        "spec": {"type": "process"},
    }
    assert flow_doc["spec"]["image"] == PROCESS_IMAGE  # type: ignore[index]


def test_yaml_for_git_round_trips() -> None:
    manifests = build(cron="@daily", parameters={"day": "x"})
    assert list(yaml.safe_load_all(to_yaml(manifests))) == manifests


def test_names_and_entrypoints() -> None:
    assert resource_name("My_ETL flow!") == "my-etl-flow"
    with pytest.raises(DeployError):
        resource_name("___")
    here = Path(__file__).resolve()
    assert entrypoint_of(my_etl, here.parent.parent) == f"cli/{here.name}:my_etl"
    with pytest.raises(DeployError, match="not under the working directory"):
        entrypoint_of(my_etl, here.parent / "elsewhere")
