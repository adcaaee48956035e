"""The UI tier's fixtures: ``baton ui`` as a real server, and Debian's Chromium.

Chromium is the system package (``/usr/bin/chromium``, installed by ``make
node-packages``), driven by Playwright from PyPI; Playwright never downloads a browser
here. If the browser or the UI server cannot start, the tests fail.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from clusterkit import ROOT, Cluster

# The worker and CLI helpers of the integration tier, shared rather than copied.
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from ui_helpers import UiServer

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def ui_server(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> Iterator[Callable[[str], UiServer]]:
    """Start ``baton ui`` as the given kubeconfig context (``admin`` or ``alice``)."""
    started: list[UiServer] = []

    def start(context: str) -> UiServer:
        server = UiServer(cluster, namespace, context, tmp_path / f"ui-{context}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        assert "Traceback" not in server.output(), server.output()[-5000:]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} missing: make node-packages installs Debian's chromium"
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    yield chromium
    chromium.close()
