"""``baton execute``: run one FlowRun inside its pod (or a process worker's subprocess).

The operator puts the run's identity in the environment (see ``controller.jobs``). This
entry point loads the entrypoint, runs the flow through the SDK engine with a
``StatusReporter`` as observer (which also keeps the run's log, ``baton.run_logs``) and a
ConfigMap-backed cache, and makes sure the final state reaches the FlowRun even across
API hiccups. SIGTERM ends the run with a clear
state: Cancelled when a cancel was requested, otherwise Crashed naming the signal.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from baton._kube.client import DEPLOYMENTS, FLOWRUNS, KubeClient
from baton.contract import (
    MissingEnvironment,
    RunIdentity,
    decode_run_environment,
    merge_parameters,
)
from baton.reporting import StatusReporter
from baton.run_logs import ConfigMapLogSink, LogSink

logger = logging.getLogger("baton.execute")

EXIT_FAILED = 1
EXIT_SIGTERM = 143


def run_identity(env: dict[str, str]) -> RunIdentity:
    """The run this process executes, from the environment the operator or worker set."""
    try:
        return decode_run_environment(env)
    except MissingEnvironment as missing:
        raise SystemExit(f"baton execute: missing environment: {missing}") from None


def _install_sigterm(client: KubeClient, identity: RunIdentity, reporter: StatusReporter) -> None:
    def on_sigterm(signum: int, _frame: FrameType | None) -> None:
        try:
            run = client.get(FLOWRUNS, identity.name, identity.namespace)
            cancelled = bool(run.get("spec", {}).get("cancelRequested"))
        except Exception:
            cancelled = False
        if cancelled:
            reporter.report_final("Cancelled", "cancelled: the pod received SIGTERM")
        else:
            reporter.report_final(
                "Crashed", f"the flow process received {signal.Signals(signum).name}"
            )
        reporter.close(final_deadline=20)
        os._exit(EXIT_SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def log_sinks(client: KubeClient, identity: RunIdentity, env: dict[str, str]) -> list[LogSink]:
    """Where the run's log is kept: owned ConfigMaps, and a bucket when one is configured."""
    name, namespace, uid, attempt = (
        identity.name,
        identity.namespace,
        identity.uid,
        identity.attempt,
    )
    sinks: list[LogSink] = [ConfigMapLogSink(client, name, namespace, uid=uid, attempt=attempt)]
    from baton.run_logs_s3 import S3Config, S3LogSink  # noqa: PLC0415

    s3 = S3Config.from_env(env)
    if s3 is not None:
        try:
            sinks.append(S3LogSink(s3, name, namespace, uid=uid, attempt=attempt))
        except (RuntimeError, ValueError) as error:  # the run goes on; its log says why
            logger.warning("run log not kept in S3: %s", error)
    return sinks


def execute(env: dict[str, str] | None = None) -> int:
    """Run the FlowRun named in ``env``; return the process exit code."""
    environ = dict(env if env is not None else os.environ)
    identity = run_identity(environ)
    client = KubeClient()
    reporter = StatusReporter(
        client,
        identity.name,
        identity.namespace,
        uid=identity.uid,
        attempt=identity.attempt,
        log_sinks=log_sinks(client, identity, environ),
    ).start()
    _install_sigterm(client, identity, reporter)
    code = EXIT_FAILED
    try:
        code = _run(client, identity, reporter)
    finally:
        if not reporter.close():
            logger.error(
                "could not write the final state of %s/%s", identity.namespace, identity.name
            )
            code = EXIT_FAILED
    return code


def read_parameters(client: KubeClient, name: str, namespace: str) -> dict[str, Any]:
    """The run's parameters merged over its Deployment's defaults, as the operator does."""
    run = client.get(FLOWRUNS, name, namespace)
    spec = run.get("spec") or {}
    defaults: dict[str, Any] = {}
    deployment = (spec.get("deploymentRef") or {}).get("name")
    if deployment:
        defaults = (
            client.get(DEPLOYMENTS, deployment, namespace).get("spec", {}).get("parameters") or {}
        )
    return merge_parameters(defaults, spec.get("parameters"))


def source_mismatch(pinned: str, directory: Path) -> str | None:
    """Why the mounted code must not be imported: its digest is not the Flow's."""
    if not pinned:
        return None
    from baton.resources.flow import directory_files, source_digest  # noqa: PLC0415

    found = source_digest(directory_files(directory))
    if found == pinned:
        return None
    return (
        f"the flow's code in {directory} does not match the Flow's source.configMap.sha256 "
        f"(pinned {pinned[:12]}, found {found[:12]}): the ConfigMap was changed; "
        "nothing was imported"
    )


def _run(client: KubeClient, identity: RunIdentity, reporter: StatusReporter) -> int:
    from baton._engine.artifact_store import set_artifact_store  # noqa: PLC0415
    from baton._engine.cache_store import set_cache_store  # noqa: PLC0415
    from baton._engine.flow_engine import run_flow  # noqa: PLC0415
    from baton._engine.pause_store import set_pause_store  # noqa: PLC0415
    from baton.cli.loading import load_flow  # noqa: PLC0415
    from baton.cluster_artifacts import ConfigMapArtifactStore  # noqa: PLC0415
    from baton.cluster_cache import ConfigMapCacheStore, integrity_key_from_env  # noqa: PLC0415
    from baton.cluster_pauses import FlowRunPauseStore  # noqa: PLC0415

    parameters = identity.parameters
    if parameters is None:  # too large for the environment: read them from the API
        parameters = read_parameters(client, identity.name, identity.namespace)
    checkout = os.environ.get("BATON_SOURCE_CHECKOUT")
    if checkout:
        from baton.git_source import checked_out_commit  # noqa: PLC0415

        commit = checked_out_commit(Path(checkout))
        if commit is None:
            message = f"git: no checkout in {checkout}: the clone did not complete"
            reporter.report_final("Failed", message, RuntimeError(message))
            return EXIT_FAILED
        reporter.record_source_commit(commit)
    problem = source_mismatch(identity.source_sha256, Path.cwd())
    if problem:
        reporter.report_final("Failed", problem, PermissionError(problem))
        return EXIT_FAILED
    try:
        flow = load_flow(identity.entrypoint, base=Path.cwd())
    except Exception as error:
        reporter.report_final(
            "Failed", f"cannot load entrypoint {identity.entrypoint!r}: {error}", error
        )
        return EXIT_FAILED
    if not hasattr(flow, "fn"):
        message = f"entrypoint {identity.entrypoint!r} is not a @flow"
        reporter.report_final("Failed", message, TypeError(message))
        return EXIT_FAILED
    store = ConfigMapCacheStore(client, identity.namespace, integrity_key=integrity_key_from_env())
    store.delete_expired(now=datetime.now(UTC))
    set_cache_store(store)
    set_artifact_store(ConfigMapArtifactStore(client, identity.namespace))
    set_pause_store(FlowRunPauseStore(client, identity.name, identity.namespace, reporter))
    started = time.monotonic()
    state = run_flow(
        flow,
        parameters,
        observer=reporter,
        flow_run_name=identity.name,
        scheduled_start_time=identity.scheduled_time,
    )
    logger.info(
        "flow run %s finished in %.2fs: %s", identity.name, time.monotonic() - started, state.name
    )
    # A suspended run's attempt ends here on purpose: the operator starts the next one
    # when the run is resumed.
    return 0 if state.is_completed() or state.is_paused() else EXIT_FAILED


def main() -> int:
    return execute()


if __name__ == "__main__":
    sys.exit(main())
