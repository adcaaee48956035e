"""``prefect_test_harness`` for users' unit tests, as ``prefect.testing.utilities`` has it.

Prefect's harness starts a throwaway API server on a temporary database so that test
runs leave nothing behind. Baton has no server: a run's only lasting local state is
the task cache and the keyed artifacts, so the harness points both at a temporary
directory for the duration of the block, and removes it afterwards. Flows run
exactly as they would outside it. ``baton_test_harness`` is the same thing under
Baton's name.

Example:
    >>> from baton.testing.utilities import prefect_test_harness
    >>> with prefect_test_harness():
    ...     assert my_flow() == "Done!"
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from baton._engine.artifact_store import set_artifact_store
from baton._engine.cache_store import set_cache_store

__all__ = ["baton_test_harness", "prefect_test_harness"]

_VARIABLES = ("BATON_CACHE_DIR", "BATON_ARTIFACT_DIR")


@contextmanager
def prefect_test_harness(server_startup_timeout: int | None = 30) -> Iterator[None]:
    """Run the block's flows against a private, temporary cache and artifact store.

    Args:
        server_startup_timeout: Accepted for Prefect compatibility; there is no server.
    """
    del server_startup_timeout
    directory = Path(tempfile.mkdtemp(prefix="baton-test-harness-"))
    saved = {name: os.environ.get(name) for name in _VARIABLES}
    os.environ["BATON_CACHE_DIR"] = str(directory / "cache")
    os.environ["BATON_ARTIFACT_DIR"] = str(directory / "artifacts")
    cache_store = set_cache_store(None)
    artifact_store = set_artifact_store(None)
    try:
        yield
    finally:
        set_cache_store(cache_store)
        set_artifact_store(artifact_store)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(directory, ignore_errors=True)


baton_test_harness = prefect_test_harness
