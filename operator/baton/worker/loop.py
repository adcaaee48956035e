"""The process worker: claim a pool's runs, execute them as local processes, heartbeat.

Three threads, each with its own API connection: the watch (``watch.RunWatcher``) keeps
a copy of the namespace's FlowRuns; the heartbeat writes this worker into the pool's
``status.workers`` every ``heartbeat_seconds``, whatever the main loop is doing; and the
main loop — the caller's thread — claims runs, starts and reaps ``baton execute`` child
processes, and forwards cancel requests as SIGTERM (then SIGKILL after ``cancel_grace``).
Children are started from the main loop only, because their parent-death signal is tied
to the thread that started them (see ``process``).

Shutdown (SIGINT/SIGTERM, or ``stop()``): stop claiming, SIGTERM the children, wait up to
``cancel_grace``, SIGKILL what is left, then remove this worker's heartbeat entry. A second
signal skips the wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from baton._kube.client import ApiError, KubeClient
from baton._kube.config import Credentials
from baton.contract import ENV_ENTRYPOINT, TERMINAL_STATES
from baton.resources.deployment import work_pool_of
from baton.worker.api import PoolApi, WorkerError
from baton.worker.claims import (
    claim_order,
    heartbeat_timeout,
    pool_log_environment,
    run_environment,
    worker_identity,
)
from baton.worker.process import RunProcess, log_path
from baton.worker.watch import RunCache, RunWatcher

logger = logging.getLogger("baton.worker")

Json = dict[str, Any]
TICK_SECONDS = 1.0
#: A run's process may outlive its terminal state this long (it is flushing and exiting).
ENDED_GRACE = 15.0
TERMINAL = TERMINAL_STATES
SYNC_TIMEOUT = 30.0


def default_log_dir() -> Path:
    """``$BATON_LOG_DIR``, else ``~/.baton/logs`` (shared with ``baton logs``)."""
    configured = os.environ.get("BATON_LOG_DIR")
    return Path(configured) if configured else Path.home() / ".baton" / "logs"


@dataclass
class WorkerOptions:
    """How one worker serves one process pool (``baton worker start``'s options)."""

    pool: str
    namespace: str
    limit: int | None = None
    work_dir: Path = field(default_factory=Path.cwd)
    log_dir: Path = field(default_factory=default_log_dir)
    heartbeat_seconds: float = 10.0
    cancel_grace: float = 10.0
    name: str = field(default_factory=worker_identity)
    kubeconfig: str | None = None
    context: str | None = None


def _print(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the worker's console is its interface


class Heartbeat(threading.Thread):
    """Writes the worker's entry into the pool's status every ``interval`` seconds."""

    def __init__(self, api: PoolApi, interval: float, running: Callable[[], int]) -> None:
        super().__init__(name="baton-worker-heartbeat", daemon=True)
        self.api = api
        self.interval = interval
        self.running = running
        self.stopping = threading.Event()
        self.last_ok: float | None = None

    def beat(self) -> int | None:
        try:
            timeout = self.api.heartbeat(self.running())
        except Exception as error:
            logger.warning("heartbeat failed: %s", error)
            return None
        if timeout is not None:
            self.last_ok = time.monotonic()
        return timeout

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.beat()


class Worker:
    """Serve one process WorkPool until stopped. ``run()`` blocks; ``stop()`` ends it."""

    def __init__(
        self,
        options: WorkerOptions,
        credentials: Credentials,
        *,
        echo: Callable[[str], None] = _print,
    ) -> None:
        self.options = options
        self.credentials = credentials
        self.echo = echo
        self.api = PoolApi(KubeClient(credentials), options.namespace, options.pool, options.name)
        self.children: dict[str, RunProcess] = {}
        #: Runs whose status names this pool while their specs do not (said once each).
        self._forged: set[str] = set()
        self.executed = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._force = threading.Event()
        self._echo_lock = threading.Lock()
        self._child_kubeconfig: str | None = None
        self._temp_kubeconfig: str | None = None  # written for --context; removed at exit
        self._log_env: dict[str, str] = {}  # the pool's logs.s3 (keys: this worker's env)

    # -- console ----------------------------------------------------------------------
    def say(self, message: str) -> None:
        with self._echo_lock:
            self.echo(f"{time.strftime('%H:%M:%S')} worker {self.options.name}: {message}")

    def _echo_child(self, line: str) -> None:
        with self._echo_lock:
            self.echo(line)

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self, *, force: bool = False) -> None:
        if force:
            self._force.set()
        self._stopping.set()
        self._wake.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        already = self._stopping.is_set()
        self.stop(force=already)
        name = signal.Signals(signum).name
        self.say(f"{name}: {'killing runs now' if already else 'stopping (again to force)'}")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def run(self) -> int:
        """Serve until stopped; the number of runs this worker executed."""
        options = self.options
        if not options.work_dir.is_dir():
            raise WorkerError(f"work directory {options.work_dir} does not exist")
        pool = self.api.check_pool()
        timeout = heartbeat_timeout(pool)
        if options.heartbeat_seconds * 2 > timeout:
            self.say(
                f"warning: heartbeat every {options.heartbeat_seconds:g}s is slow for the pool's "
                f"heartbeatTimeoutSeconds={timeout}; runs may be marked Crashed"
            )
        self._child_kubeconfig = self._kubeconfig_for_children()
        self._log_env = pool_log_environment(pool)
        heartbeat = Heartbeat(
            PoolApi(KubeClient(self.credentials), options.namespace, options.pool, options.name),
            options.heartbeat_seconds,
            lambda: len(self.children),
        )
        heartbeat.beat()
        heartbeat.start()
        cache = RunCache(self._wake.set)
        watcher = RunWatcher(KubeClient(self.credentials), options.namespace, cache)
        watcher.start()
        limit = "no limit" if options.limit is None else f"limit {options.limit}"
        self.say(
            f'serving work pool "{options.pool}" in namespace "{options.namespace}" '
            f"({limit}; work dir {options.work_dir}; logs in {options.log_dir})"
        )
        try:
            with self._signals():
                if not cache.synced.wait(SYNC_TIMEOUT):
                    self.say("still waiting for the first list of flow runs...")
                try:
                    self._loop(cache)
                finally:
                    self._shutdown()  # never leave runs behind, whatever ended the loop
        finally:
            heartbeat.stopping.set()
            watcher.stop()
            with contextlib.suppress(Exception):
                heartbeat.api.heartbeat(0, leaving=True)
            heartbeat.api.client.close()
            self.api.client.close()
            if self._temp_kubeconfig:
                with contextlib.suppress(OSError):
                    os.unlink(self._temp_kubeconfig)
        self.say(f"stopped after executing {self.executed} run(s)")
        return self.executed

    def _loop(self, cache: RunCache) -> None:
        while not self._stopping.is_set():
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()
            self._reap()
            self._forward_cancels(cache)
            if not self._stopping.is_set():
                self._claim(cache)

    def _shutdown(self) -> None:
        if self.children:
            self.say(f"stopping {len(self.children)} running run(s)")
        for child in self.children.values():
            child.terminate()
        deadline = time.monotonic() + self.options.cancel_grace
        while self.children:
            grace = 0.0 if self._force.is_set() or time.monotonic() >= deadline else 1e9
            for child in self.children.values():
                if child.escalate(grace):
                    self.say(f"{child.name}: killed (still running after SIGTERM)")
            self._reap()
            time.sleep(0.1)

    # -- runs -----------------------------------------------------------------------------
    def _reap(self) -> None:
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is None:
                continue
            child.finish()
            del self.children[name]
            shutil.rmtree(self._run_dir(name), ignore_errors=True)
            self.executed += 1
            elapsed = time.monotonic() - child.started
            self.say(f"{name}: process exited with code {code} after {elapsed:.1f}s")
            if code != 0 and self.api.report_exit(name, child.attempt, code):
                self.say(f"{name}: reported Crashed (no final report from the process)")
            self._wake.set()  # a slot is free

    def _forward_cancels(self, cache: RunCache) -> None:
        now = time.monotonic()
        for name, child in self.children.items():
            run = cache.get(name)
            state = ((run or {}).get("status") or {}).get("state")
            if state in TERMINAL and child.ended_seen_at is None:
                child.ended_seen_at = now
            if child.cancel_sent_at is None:
                if run is None and cache.synced.is_set():
                    self.say(f"{name}: the FlowRun was deleted; stopping its process")
                    child.terminate()
                elif run is not None and (run.get("spec") or {}).get("cancelRequested"):
                    self.say(f"{name}: cancel requested; sending SIGTERM")
                    child.terminate()
                elif child.ended_seen_at is not None and now - child.ended_seen_at > ENDED_GRACE:
                    # e.g. the operator declared it Crashed while this worker was cut off
                    self.say(f"{name}: the run ended {state} but its process lives on; stopping it")
                    child.terminate()
            elif child.escalate(self.options.cancel_grace):
                self.say(
                    f"{name}: still running {self.options.cancel_grace:g}s after SIGTERM; SIGKILL"
                )

    def _claim(self, cache: RunCache) -> None:
        limit = self.options.limit
        slots = None if limit is None else limit - len(self.children)
        if slots is not None and slots <= 0:
            return
        # Our own claims may not be in the cache yet: never try them twice.
        candidates = [
            r
            for r in cache.snapshot()
            if r["metadata"]["name"] not in self.children
            and r["metadata"].get("uid") not in self._forged
        ]
        for run in claim_order(candidates, self.options.pool, slots):
            if self._stopping.is_set():
                return
            try:
                self._claim_one(run)
            except (ApiError, WorkerError, OSError) as error:
                self.say(f"{run['metadata']['name']}: not started: {error}")
            except Exception as error:  # a flaky connection must not end the worker
                self.say(f"{run['metadata']['name']}: not started: {error!r}")

    def _claim_one(self, run: Json) -> None:
        name = run["metadata"]["name"]
        flow, deployment = self.api.resolve(run)
        pool = work_pool_of(run, deployment)
        if pool != self.options.pool:
            # status.workPool names this pool, but the specs do not: a forged status.
            self._forged.add(run["metadata"].get("uid", ""))
            raise WorkerError(
                f"its status names pool {self.options.pool!r} but its specs say {pool!r}; "
                "left alone"
            )
        seen = time.monotonic()
        claimed = self.api.claim(run)
        if claimed is None:
            return
        attempt = (claimed.get("status") or {}).get("attempts") or 1
        base = {**os.environ, **self._log_env}
        if self._child_kubeconfig:
            base["KUBECONFIG"] = self._child_kubeconfig
        env = run_environment(claimed, flow, deployment, base=base)
        cwd = self._fetch_source(name, flow, env)
        if cwd is None:
            return
        child = RunProcess(
            name,
            self.options.namespace,
            env=env,
            cwd=cwd,
            log_file=log_path(self.options.log_dir, self.options.namespace, name),
            echo=self._echo_child,
            header=f"attempt {attempt} on worker {self.options.name}",
        )
        child.attempt = attempt
        self.children[name] = child
        self.say(
            f"{name}: claimed in {(time.monotonic() - seen) * 1000:.0f} ms; attempt {attempt} "
            f"of {env[ENV_ENTRYPOINT]} started as pid {child.pid}"
        )

    def _run_dir(self, name: str) -> Path:
        return self.options.work_dir / ".baton-runs" / name

    def _fetch_source(self, name: str, flow: Json, env: dict[str, str]) -> Path | None:
        """The run's working directory: the work dir, or a fresh clone of the Flow's
        ``source.git`` in a per-run directory (None: the clone failed, the run is
        Failed with git's error)."""
        from baton import git_source  # noqa: PLC0415

        try:
            request = git_source.request_for_flow(self.api.client, flow, self.options.namespace)
            if request is None:
                return self.options.work_dir
            checkout = self._run_dir(name) / "repo"
            started = time.monotonic()
            commit = git_source.fetch(request, checkout)
        except git_source.GitFetchError as error:
            self.say(f"{name}: {error}")
            git_source.report_failure(self.api.client, env, str(error))
            shutil.rmtree(self._run_dir(name), ignore_errors=True)
            return None
        self.say(f"{name}: cloned {request.url} at {commit} in {time.monotonic() - started:.2f}s")
        env[git_source.CHECKOUT_ENV] = str(checkout)
        sub_path = ((flow.get("spec") or {}).get("source") or {}).get("git", {}).get("subPath")
        return checkout / sub_path if sub_path else checkout

    def _kubeconfig_for_children(self) -> str | None:
        """The kubeconfig children should use: the worker's, with its ``--context`` current."""
        options = self.options
        path = options.kubeconfig or os.environ.get("KUBECONFIG")
        if not path:
            return None  # children find in-cluster or ~/.kube/config credentials as we did
        source = Path(path.split(os.pathsep)[0]).expanduser().resolve()
        if not options.context:
            return str(source)  # absolute: children run in the work directory
        import yaml  # noqa: PLC0415 - only with an explicit --context

        config = yaml.safe_load(source.read_text()) or {}
        config["current-context"] = options.context
        for section, key in (("clusters", "cluster"), ("users", "user")):
            for entry in config.get(section) or []:
                for field_name in (
                    "certificate-authority",
                    "client-certificate",
                    "client-key",
                    "tokenFile",
                ):
                    value = (entry.get(key) or {}).get(field_name)
                    if value and not os.path.isabs(value):
                        entry[key][field_name] = str((source.parent / value).resolve())
        handle, name = tempfile.mkstemp(prefix="baton-worker-", suffix=".kubeconfig")
        with os.fdopen(handle, "w") as out:
            yaml.safe_dump(config, out)
        self._temp_kubeconfig = name
        return name
