"""Flows the fault tests run for real, as ``baton execute`` processes."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pydantic import SecretStr

from baton import flow, get_run_logger, task
from baton.artifacts import create_markdown_artifact
from baton.blocks import Block
from baton.blocks.system import Secret

#: Larger than the reporter's inline limit: the artifact goes to a ConfigMap.
BIG_ARTIFACT_BYTES = 10_000


@task
def square(i: int) -> int:
    return i * i


@flow
def through_outage(handshake: str, before: int = 3, after: int = 3) -> int:
    """Tasks, then a pause the test uses to stop the API server, then more tasks and a
    large artifact while it is down, then the result.

    ``handshake`` is a directory: the flow writes ``ready`` when its first tasks are
    done, waits for the test's ``go``, and writes ``done`` just before returning.
    """
    door = Path(handshake)
    total = sum(square(i) for i in range(before))
    (door / "ready").write_text("")
    deadline = time.monotonic() + 90
    while not (door / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never said go")
        time.sleep(0.05)
    total += sum(square(i) for i in range(before, before + after))
    create_markdown_artifact("# during the outage\n\n" + "x" * BIG_ARTIFACT_BYTES, key="big")
    (door / "done").write_text(str(total))
    return total


@task
def connect(password: str, user: str) -> str:
    """Stands for a real login: uses the password, never shows it."""
    return hashlib.sha256(f"{user}:{password}".encode()).hexdigest()[:16]


@task(persist_result=True)
def fingerprint(password: str) -> str:
    """A cached task taking the secret as input: its cache key is derived from it."""
    return hashlib.sha256(password.encode()).hexdigest()


@flow
def uses_secret(user: str = "etl") -> str:
    """Reads a password from the environment, as a flow given a secretKeyRef does."""
    password = os.environ["DB_PASSWORD"]
    get_run_logger().info("connecting as %s", user)
    connect(password, user)
    return fingerprint(password)


# -- blocks (test_least_privilege.py::test_a_run_reads_only_the_blocks_it_declares) ----------
class FaultConnector(Block):
    """A seed-style custom connector block: an account and its password."""

    account: str
    password: SecretStr


@flow
def uses_blocks() -> dict[str, str]:
    """Loads the declared connector, then tries a block the run did not declare."""
    connector = FaultConnector.load("warehouse")
    get_run_logger().info("connecting to %s", connector.account)
    try:
        Secret.load("undeclared")
        undeclared = "read"
    except LookupError as error:
        undeclared = str(error)
    return {
        "account": connector.account,
        "password_sha256": hashlib.sha256(
            connector.password.get_secret_value().encode()
        ).hexdigest(),
        "undeclared": undeclared,
    }


#: ``marked``'s directory of execution markers, from the test (through the Job's env).
MARKERS_ENV = "BATON_TEST_MARKERS"


@flow
def marked() -> str:
    """Leaves one file per execution of its body, named by run and attempt (and a
    random suffix, so a second execution of the same attempt is a second file)."""
    run, attempt = os.environ["BATON_FLOW_RUN_NAME"], os.environ["BATON_ATTEMPT"]
    marker = Path(os.environ[MARKERS_ENV]) / f"{run}@{attempt}@{os.urandom(4).hex()}"
    marker.write_text(str(os.getpid()))
    return run
