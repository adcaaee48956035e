"""Flows that publish a keyed artifact and read its latest version back in another run."""

from __future__ import annotations

from baton import flow
from baton.artifacts import Artifact, create_markdown_artifact


@flow
def publish(version: int) -> None:
    create_markdown_artifact(f"report v{version}", key="nightly-report", description="nightly")


@flow
def read_back() -> str:
    found = Artifact.get("nightly-report")
    return f"{found.data} ({found.description})" if found else "<none>"
