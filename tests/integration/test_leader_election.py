"""Leader election on a real Lease: one replica acts, a standby takes over, never two.

The elector is exercised directly (two candidates in this process against the real API
server) and through real ``baton operator`` processes: a kill -9 of the leader hands over
after the lease duration, a SIGTERM after one retry period, and the standby creates no
FlowRun while the leader lives. The failover figures are printed as JSON.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from baton._kube.client import KubeClient, NotFound
from baton._kube.config import from_kubeconfig
from baton.controller.leader import LEASES, LeaderElector, LeaseConfig, lease_name
from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, pool, wait_for

pytestmark = pytest.mark.integration

SHORT = {
    "duration": timedelta(seconds=3),
    "renew_deadline": timedelta(seconds=2),
    "retry_period": timedelta(seconds=0.25),
}


def _client(cluster: Cluster) -> KubeClient:
    return KubeClient(from_kubeconfig(cluster.kubeconfig))


def _lease(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    with _client(cluster) as client:
        return client.get(LEASES, name, namespace)


def test_one_holder_a_standby_and_takeover_after_expiry(crds: Cluster, namespace: str) -> None:
    with _client(crds) as one, _client(crds) as two:
        a = LeaderElector(one, LeaseConfig("election", namespace, "a", **SHORT))
        b = LeaderElector(two, LeaseConfig("election", namespace, "b", **SHORT))
        assert a.try_acquire_or_renew() and a.leading()
        assert not b.try_acquire_or_renew() and not b.leading()
        # The holder renews: the standby keeps seeing a changing record, never expiry.
        for _ in range(12):
            time.sleep(0.3)
            assert a.try_acquire_or_renew()
            assert not b.try_acquire_or_renew()
        # The holder stops renewing (as if killed): the standby takes over only after a
        # whole lease duration of an unchanged record, measured on its own clock.
        stopped = time.monotonic()
        while not b.try_acquire_or_renew():
            time.sleep(0.05)
        waited = time.monotonic() - stopped
        assert 3.0 <= waited < 4.5, waited
        spec = _lease(crds, namespace, "election")["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
        # The old holder finds another holder: it is fenced at once.
        assert not a.try_acquire_or_renew() and not a.leading() and a.holder() == "b"


def test_a_released_lease_is_taken_at_the_next_retry(crds: Cluster, namespace: str) -> None:
    with _client(crds) as one, _client(crds) as two:
        a = LeaderElector(one, LeaseConfig("release", namespace, "a", **SHORT))
        b = LeaderElector(two, LeaseConfig("release", namespace, "b", **SHORT))
        assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
        a.release()
        assert b.try_acquire_or_renew()  # no wait for expiry
        assert _lease(crds, namespace, "release")["spec"]["holderIdentity"] == "b"


def test_racing_candidates_never_both_win(crds: Cluster, namespace: str) -> None:
    """Eight candidates race for each of 15 free Leases: exactly one wins every time."""
    clients = [_client(crds) for _ in range(8)]
    try:
        for round_ in range(15):
            name = f"race-{round_}"
            electors = [
                LeaderElector(c, LeaseConfig(name, namespace, f"c{i}", **SHORT))
                for i, c in enumerate(clients)
            ]
            barrier = threading.Barrier(len(electors))
            wins: list[str] = []

            def race(
                elector: LeaderElector,
                barrier: threading.Barrier = barrier,
                wins: list[str] = wins,
            ) -> None:
                barrier.wait()
                if elector.try_acquire_or_renew():
                    wins.append(elector.config.identity)

            threads = [threading.Thread(target=race, args=(e,)) for e in electors]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            holder = _lease(crds, namespace, name)["spec"]["holderIdentity"]
            assert wins == [holder], (round_, wins, holder)
    finally:
        for client in clients:
            client.close()


def _holder(crds: Cluster, lease_ns: str, name: str) -> str:
    try:
        return str(_lease(crds, lease_ns, name)["spec"].get("holderIdentity") or "")
    except NotFound:  # not created yet
        return ""


def _run_count(crds: Cluster, namespace: str) -> int:
    return len(crds.get_json("flowruns", "-n", namespace)["items"])


@pytest.fixture
def replicas(crds: Cluster, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """Operator replicas with the production lease timings (15 s / 10 s / 2 s)."""
    process = OperatorProcess(crds, namespace, tmp_path)
    for variable in [v for v in process.env if v.startswith("BATON_LEASE_")]:
        del process.env[variable]
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


@pytest.mark.parametrize("how", ["kill-9", "sigterm"])
def test_operator_failover(
    replicas: OperatorProcess, crds: Cluster, namespace: str, how: str
) -> None:
    operator = replicas
    apply(crds, namespace, flow(), pool(), deployment(schedules=[{"interval": 1}]))
    name = lease_name(operator.namespaces)
    lease_ns = "default"
    first = operator.start()
    wait_for(lambda: _holder(crds, lease_ns, name), timeout=60, what="a leader")
    leader = _holder(crds, lease_ns, name)
    second = operator.start()
    wait_for(
        lambda: "standby: Lease" in operator.logs(), timeout=60, what="the second replica waiting"
    )
    wait_for(lambda: _run_count(crds, namespace) >= 3, timeout=60, what="runs from the leader")
    assert _holder(crds, lease_ns, name) == leader
    standby_log = operator.log_dir / "operator-1.log"
    assert "baton operator configured" not in standby_log.read_text(), "the standby acts"
    if how == "kill-9":
        operator.kill9(first)
    else:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    gone = time.monotonic()
    wait_for(
        lambda: _holder(crds, lease_ns, name) not in ("", leader),
        timeout=40,
        interval=0.1,
        what="the standby to take the Lease",
    )
    took_over = time.monotonic() - gone
    before = _run_count(crds, namespace)
    wait_for(
        lambda: _run_count(crds, namespace) > before,
        timeout=30,
        interval=0.1,
        what="a run from the new leader",
    )
    scheduling_again = time.monotonic() - gone
    assert second.poll() is None
    # kill -9: the record must stand still for a lease duration (15 s) before the standby
    # may take it; SIGTERM releases it and the standby takes it at its next retry (2 s).
    bound = 15 + 2 * 2 + 3 if how == "kill-9" else 2 + 3
    assert took_over < bound, took_over
    if how == "kill-9":
        assert took_over >= 14.5, f"taken after {took_over:.1f} s: before the lease expired"
    assert "baton operator configured" in standby_log.read_text()
    print(
        "leader failover: "
        + json.dumps(
            {
                "how": how,
                "lease_taken_s": round(took_over, 2),
                "first_run_after_s": round(scheduling_again, 2),
            }
        )
    )
