"""Where a paused flow run waits for its resume, so another thread or process can give it.

``pause_flow_run`` records the pause (its key, the JSON schema of the input it waits
for, when it gives up) and polls for a resume; ``resume_flow_run`` checks the input
against that schema and records it. One seam, two stores:

* ``FilePauseStore`` locally: one JSON file per paused run in ``$BATON_HOME/pauses``
  (default ``~/.baton/pauses``), written atomically, so a second process on the same
  machine (``resume_flow_run(run_id, ...)`` in a Python shell) can resume the run;
* ``baton.cluster_pauses.FlowRunPauseStore`` inside a pod: the pause is in the FlowRun's
  status (written by the runtime), the resume in its spec (written by ``baton resume``
  or a patch), installed by the in-cluster runtime with ``set_pause_store``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "FilePauseStore",
    "PauseRecord",
    "PauseStore",
    "get_pause_store",
    "set_pause_store",
]


@dataclass
class PauseRecord:
    """One pause of one flow run, and its resume once given."""

    run_id: str
    key: str
    #: The JSON schema of the input the run waits for; ``None``: it waits for no input.
    schema: dict[str, Any] | None
    #: When the pause gives up (ISO 8601, UTC); ``None``: never.
    deadline: str | None
    suspended: bool = False
    resumed: bool = False
    run_input: dict[str, Any] | None = None


class PauseStore(Protocol):
    """Pauses by run id; a run has at most one pause at a time."""

    #: Whether a suspended run can continue in a new process (a run with a FlowRun can;
    #: a local run has nothing to start it again, as Prefect's without a deployment).
    can_suspend: bool

    def pause(self, record: PauseRecord) -> None:
        """Record that the run is paused (replacing an earlier pause of the same run)."""
        ...

    def read(self, run_id: str) -> PauseRecord | None:
        """The run's current pause (resumed or not), or ``None``."""
        ...

    def resume(self, run_id: str, key: str, run_input: dict[str, Any] | None) -> None:
        """Record the resume of the run's pause ``key`` with ``run_input`` (checked already)."""
        ...

    def clear(self, run_id: str) -> None:
        """Forget the run's pause (it resumed, or gave up)."""
        ...


class FilePauseStore:
    """One JSON file per paused run in ``directory``."""

    can_suspend = False

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def _path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}.json"

    def _write(self, record: PauseRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(record), handle)
            os.replace(tmp, self._path(record.run_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def pause(self, record: PauseRecord) -> None:
        self._write(record)

    def read(self, run_id: str) -> PauseRecord | None:
        try:
            data = json.loads(self._path(run_id).read_text())
            return PauseRecord(**data)
        except (OSError, ValueError, TypeError):
            return None

    def resume(self, run_id: str, key: str, run_input: dict[str, Any] | None) -> None:
        record = self.read(run_id)
        if record is None or record.key != key:
            return
        record.resumed, record.run_input = True, run_input
        self._write(record)

    def clear(self, run_id: str) -> None:
        self._path(run_id).unlink(missing_ok=True)


def default_pause_dir() -> Path:
    """``$BATON_HOME/pauses`` (default ``~/.baton/pauses``)."""
    from baton._store import baton_home  # noqa: PLC0415 - keeps `import baton` light

    return baton_home() / "pauses"


_store: PauseStore | None = None


def get_pause_store() -> PauseStore:
    """The installed store, else a ``FilePauseStore`` in ``default_pause_dir()``."""
    return _store if _store is not None else FilePauseStore(default_pause_dir())


def set_pause_store(store: PauseStore | None) -> PauseStore | None:
    """Install ``store`` (``None``: back to the local files); return the previous one."""
    global _store
    previous, _store = _store, store
    return previous
