"""A paused run in a pod waits on its FlowRun: the pause in status, the resume in spec.

The runtime writes ``status.pause`` (key, the input's JSON schema, deadline) with the
Paused state, through its ``StatusReporter``; a resumer writes ``spec.resume`` (the
pause's key and the input) — ``baton resume RUN --input k=v`` or any patch of the
FlowRun by someone allowed to change its spec. Spec, because status is written only by
the operator and the run's own pod (``resources/policy.py``), and a resume is a
request, like ``cancelRequested``. ``pause_flow_run`` then reads the FlowRun every
``poll_interval`` seconds; the input is validated against the flow's model by the
runtime (a bad one is refused in ``status.pause.message`` and the run keeps waiting).

A FlowRun is one flow run: a subflow's pause pauses it as well.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from baton._engine.pause_store import PauseRecord
from baton._kube.client import FLOWRUNS, KubeClient

if TYPE_CHECKING:
    from baton.reporting import StatusReporter

logger = logging.getLogger("baton.cluster_pauses")

__all__ = ["FlowRunPauseStore", "resume_patch"]


def resume_patch(pause_key: str, run_input: dict[str, Any] | None) -> dict[str, Any]:
    """The merge patch that resumes pause ``pause_key`` of a FlowRun with ``run_input``.

    ``input`` is replaced whole (set to null first would take a second write): a merge
    patch of a map keeps keys it does not name, so the patch names the whole object.
    """
    return {"spec": {"resume": {"pauseKey": pause_key, "input": run_input}}}


class FlowRunPauseStore:
    """``PauseStore`` for the one FlowRun this pod runs."""

    can_suspend = True

    def __init__(self, client: KubeClient, name: str, namespace: str, reporter: StatusReporter):
        self._client = client
        self._name = name
        self._namespace = namespace
        self._reporter = reporter
        self._current: PauseRecord | None = None
        self._refused: str | None = None

    def _status(self, record: PauseRecord, message: str = "") -> dict[str, Any]:
        return {
            "key": record.key,
            "inputSchema": record.schema,
            "deadline": record.deadline,
            "suspended": record.suspended,
            "message": message,
        }

    def pause(self, record: PauseRecord) -> None:
        self._current, self._refused = record, None
        self._reporter.record_pause(self._status(record))

    def read(self, run_id: str) -> PauseRecord | None:
        """The pause, resumed when ``spec.resume`` names its key with an acceptable input."""
        record = self._current
        spec = self._client.get(FLOWRUNS, self._name, self._namespace).get("spec") or {}
        resume = spec.get("resume") or {}
        if record is None:
            # A new attempt of a suspended run: the pause it waited in is the resume's.
            key = resume.get("pauseKey")
            if not key:
                return None
            return PauseRecord(
                run_id=run_id, key=key, schema=None, deadline=None,
                resumed=True, run_input=resume.get("input"),
            )  # fmt: skip
        if resume.get("pauseKey") != record.key:
            return record
        run_input = resume.get("input")
        from baton.flow_runs import input_problem  # noqa: PLC0415

        problem = input_problem(record.schema, run_input)
        if problem:
            seen = json.dumps(run_input, sort_keys=True, default=str)
            if seen != self._refused:  # say it once per input written
                self._refused = seen
                logger.warning("resume of %s refused: %s", self._name, problem)
                self._reporter.record_pause(self._status(record, f"resume refused: {problem}"))
            return record
        return PauseRecord(
            run_id=run_id, key=record.key, schema=record.schema, deadline=record.deadline,
            suspended=record.suspended, resumed=True, run_input=run_input,
        )  # fmt: skip

    def resume(self, run_id: str, key: str, run_input: dict[str, Any] | None) -> None:
        del run_id
        self._client.patch(FLOWRUNS, self._name, self._namespace, resume_patch(key, run_input))

    def clear(self, run_id: str) -> None:
        del run_id
        self._current = None
        self._reporter.record_pause(None)
