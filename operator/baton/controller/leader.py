"""Leader election on a ``coordination.k8s.io`` Lease: one replica acts, the others wait.

The algorithm is client-go's (``tools/leaderelection``), so it behaves the way
kube-controller-manager's does and an operator reading ``kubectl get lease`` sees the
same fields:

- A candidate takes the Lease when it does not exist, when its holder released it
  (``holderIdentity`` empty), or when the record has not changed for
  ``leaseDurationSeconds`` *as measured on the candidate's own monotonic clock* from the
  moment it first saw that record. Clocks of different machines are never compared, so
  skew between replicas or with the API server cannot make two leaders.
- Every write is an update at the record's ``resourceVersion``: two candidates racing for
  an expired Lease cannot both win (the loser gets 409 Conflict).
- The leader renews every ``retry_period``. Its writes are fenced: once it has not
  renewed for ``renew_deadline`` (shorter than the lease duration), every write the
  operator makes waits (``leading()`` is False), before any standby can consider the
  Lease expired. When it can renew again and the Lease still names it, it carries on
  (an API server outage does not restart a lone operator); when it finds another holder
  it exits at once (client-go exits too) and the kubelet restarts it as a standby.
- On a clean stop the leader releases the Lease, so a standby takes over within one
  ``retry_period`` instead of a whole lease duration.

The elector runs in threads with the synchronous client, on connections of its own: a
busy event loop cannot delay renewals, and renewals never queue behind the operator's
own requests.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from baton._kube.client import Conflict, Kind, KubeClient, NotFound

LEASES = Kind("coordination.k8s.io", "v1", "leases")
LEASE_DURATION = timedelta(seconds=15)
RENEW_DEADLINE = timedelta(seconds=10)
RETRY_PERIOD = timedelta(seconds=2)

log = logging.getLogger("baton.leader")


def micro_time(moment: datetime) -> str:
    """A ``metav1.MicroTime``: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """``$POD_NAME`` (the chart sets it), else the host name and a random suffix.

    A pod runs one operator container at a time, so the pod's name is unique among live
    candidates, and a container the kubelet restarts in the same pod (after a crash or an
    OOM kill) finds its own name on the Lease and goes on at once instead of waiting out
    the lease duration. Elsewhere (two processes on one machine) each process is its own
    candidate.
    """
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    duration: timedelta = LEASE_DURATION
    renew_deadline: timedelta = RENEW_DEADLINE
    retry_period: timedelta = RETRY_PERIOD

    def __post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.duration:
            raise ValueError(
                "leader election needs retry period < renew deadline < lease duration, got "
                f"{self.retry_period.total_seconds()} / {self.renew_deadline.total_seconds()} / "
                f"{self.duration.total_seconds()} s"
            )

    @classmethod
    def from_env(cls, name: str, namespace: str, identity: str | None = None) -> LeaseConfig:
        """Durations from ``BATON_LEASE_*_SECONDS`` (tests use short ones)."""

        def seconds(variable: str, default: timedelta) -> timedelta:
            return timedelta(seconds=float(os.environ.get(variable, default.total_seconds())))

        return cls(
            name=name,
            namespace=namespace,
            identity=identity or default_identity(),
            duration=seconds("BATON_LEASE_DURATION_SECONDS", LEASE_DURATION),
            renew_deadline=seconds("BATON_LEASE_RENEW_DEADLINE_SECONDS", RENEW_DEADLINE),
            retry_period=seconds("BATON_LEASE_RETRY_PERIOD_SECONDS", RETRY_PERIOD),
        )


@dataclass(frozen=True)
class _Observed:
    """The record as last read, and when (our monotonic clock) it last changed."""

    record: tuple[Any, ...]
    since: float


class LeaderElector:
    """Acquire, keep and release one Lease for ``config.identity``."""

    def __init__(
        self,
        client: KubeClient,
        config: LeaseConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self.config = config
        self._monotonic = monotonic
        self._wall = wall
        self._observed: _Observed | None = None
        self._last_renewal: float | None = None

    def leading(self) -> bool:
        """True while the last renewal is younger than the renew deadline (the fence)."""
        last = self._last_renewal
        return last is not None and (
            self._monotonic() - last < self.config.renew_deadline.total_seconds()
        )

    def holder(self) -> str:
        """The holder in the record as last read ("" when free or not read yet)."""
        return str(self._observed.record[0]) if self._observed else ""

    # -- one attempt -----------------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """One round of the algorithm; True if this candidate holds the Lease after it."""
        now = self._wall()
        config = self.config
        try:
            lease = self._client.get(LEASES, config.name, config.namespace)
        except NotFound:
            return self._create(now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (
            holder,
            spec.get("renewTime"),
            spec.get("acquireTime"),
            spec.get("leaseDurationSeconds"),
            spec.get("leaseTransitions"),
        )
        mono = self._monotonic()
        if self._observed is None or self._observed.record != record:
            self._observed = _Observed(record, mono)
        duration = float(spec.get("leaseDurationSeconds") or config.duration.total_seconds())
        expired = mono - self._observed.since > duration
        if holder and holder != config.identity and not expired:
            self._last_renewal = None  # someone else leads: fence at once
            return False
        taking_over = holder != config.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if taking_over else 0)
        wanted: dict[str, Any] = {
            "holderIdentity": config.identity,
            "leaseDurationSeconds": int(config.duration.total_seconds()) or 1,
            "renewTime": micro_time(now),
            "acquireTime": micro_time(now) if taking_over else spec.get("acquireTime"),
            "leaseTransitions": transitions,
        }
        body = {**lease, "spec": {**spec, **wanted}}
        try:
            self._client.request("PUT", LEASES.path(config.namespace, config.name), body=body)
        except (Conflict, NotFound):
            return False
        self._last_renewal = mono
        return True

    def _create(self, now: datetime) -> bool:
        config = self.config
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": config.name, "namespace": config.namespace},
            "spec": {
                "holderIdentity": config.identity,
                "leaseDurationSeconds": int(config.duration.total_seconds()) or 1,
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            self._client.create(LEASES, body, config.namespace)
        except Conflict:
            return False
        self._last_renewal = self._monotonic()
        return True

    # -- loops -----------------------------------------------------------------------

    def acquire(
        self, stop: threading.Event, on_round: Callable[[str | None], None] = lambda _: None
    ) -> bool:
        """Block until this candidate leads (True) or ``stop`` is set (False).

        ``on_round`` hears after each round that did not win why: None (another replica
        holds the Lease: a healthy standby) or the error (e.g. 403: it cannot be read).
        """
        announced = False
        lease = f"{self.config.namespace}/{self.config.name}"
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    log.info("leading: Lease %s acquired", lease)
                    return True
                on_round(None)
            except Exception as error:
                log.warning("leader election: %s", error)
                on_round(f"cannot take Lease {lease}: {error}")
            if not announced:
                holder = self._observed.record[0] if self._observed else "?"
                log.info(
                    "standby: Lease %s/%s is held by %s",
                    self.config.namespace,
                    self.config.name,
                    holder,
                )
                announced = True
            stop.wait(self.config.retry_period.total_seconds())
        return False

    def keep(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Renew until ``stop``; call ``on_lost`` once another identity holds the Lease.

        Renewals that fail (an outage) only fence writes through ``leading()``.
        """
        fenced = False
        while not stop.wait(self.config.retry_period.total_seconds()):
            try:
                renewed = self.try_acquire_or_renew()
            except Exception as error:
                log.warning("leader election: renewal failed: %s", error)
                renewed = False
            if not renewed and self.holder() not in ("", self.config.identity):
                on_lost()
                return
            if fenced == self.leading():
                fenced = not fenced
                if fenced:
                    log.warning("leader Lease not renewed within the deadline: writes wait")
                else:
                    log.info("leader Lease renewed: writes resume")

    def release(self) -> None:
        """Give the Lease up (if held) so a standby takes over at its next retry."""
        config = self.config
        try:
            lease = self._client.get(LEASES, config.name, config.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != config.identity:
                return
            lease["spec"] = {
                **spec,
                "holderIdentity": None,
                "leaseDurationSeconds": 1,
                "renewTime": micro_time(self._wall()),
            }
            self._client.request("PUT", LEASES.path(config.namespace, config.name), body=lease)
            log.info("Lease %s/%s released", config.namespace, config.name)
        except Exception as error:
            log.warning("could not release the Lease: %s", error)


def lease_name(namespaces: list[str]) -> str:
    """The default Lease: one per set of watched namespaces (one per installation).

    Two operators watching different namespaces are independent installations and must
    not wait for each other; replicas of one installation share the name.
    """
    if not namespaces:
        return "baton-operator"
    digest = hashlib.sha256(",".join(sorted(set(namespaces))).encode()).hexdigest()[:10]
    return f"baton-operator-{digest}"


class _StandbyHandler(http.server.BaseHTTPRequestHandler):
    """Alive (200) on the liveness path, not ready (503) elsewhere: a standby."""

    liveness_path = "/healthz"

    def do_GET(self) -> None:
        alive = urllib.parse.urlsplit(self.path).path == self.liveness_path
        body = b'{"standby": true}' if alive else b'{"standby": true, "leading": false}'
        self.send_response(200 if alive else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return


class StandbyProbe:
    """Answers the liveness probe while the process waits for the Lease.

    kopf serves the probe only once it runs, and it runs only on the leader; without this
    the kubelet would restart every standby for failing its liveness probe.
    """

    def __init__(self, liveness: str | None) -> None:
        self._server: http.server.ThreadingHTTPServer | None = None
        if not liveness:
            return
        url = urllib.parse.urlsplit(liveness)
        handler = type("Handler", (_StandbyHandler,), {"liveness_path": url.path or "/"})
        self._server = http.server.ThreadingHTTPServer(
            (url.hostname or "0.0.0.0", url.port or 80),
            handler,
        )
        threading.Thread(
            target=self._server.serve_forever, name="standby-probe", daemon=True
        ).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
