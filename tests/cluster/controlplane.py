"""Start and stop a real, local Kubernetes control plane for Baton's tests and demo.

The binaries come from ``tests/cluster/build.sh`` (etcd and the multi-call ``kube``
binary, built from Kubernetes' published Go modules). This module generates the
certificates and keys, picks free ports on 127.0.0.1, starts etcd, kube-apiserver and
kube-controller-manager in their own process groups, waits for ``/readyz`` and writes a
kubeconfig. Nothing here is mocked: tests talk to the real API server.

Standard library only, so it runs before the project's virtualenv exists.

    python tests/cluster/controlplane.py up   [--dir .cluster]   # start, detached
    python tests/cluster/controlplane.py down [--dir .cluster]   # stop, no process left
    python tests/cluster/controlplane.py status [--dir .cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

#: Users the static token file defines. ``admin`` is in system:masters; ``alice`` has no
#: bindings at all, so RBAC denies her everything unless a test grants it.
ADMIN_USER = "admin"
NON_ADMIN_USER = "alice"

#: Controllers the tests and benchmarks rely on (``*`` keeps the rest of the defaults on).
CONTROLLERS = ",".join(
    [
        "*",
        "job-controller",
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "ttl-after-finished-controller",
        "cronjob-controller",
    ]
)

SERVICE_CIDR = "10.96.0.0/16"


def log(message: str) -> None:
    print(f"[controlplane {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build() -> Path:
    """Build (or reuse the cached) binaries; return the directory holding them."""
    result = subprocess.run(
        ["bash", str(HERE / "build.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(result.stdout.strip().splitlines()[-1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def generate_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate and the service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=baton-test-ca",
        cwd=pki,
    )
    (pki / "san.cnf").write_text(
        "[ext]\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        "DNS:kubernetes.default.svc.cluster.local\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "apiserver.key",
        "-out",
        "apiserver.csr",
        "-subj",
        "/CN=kube-apiserver",
        cwd=pki,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "apiserver.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-out",
        "apiserver.crt",
        "-extfile",
        "san.cnf",
        "-extensions",
        "ext",
        cwd=pki,
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    # The API server's identity towards kubelets (pod logs, exec): a system:masters member,
    # which a kubelet's webhook authorization allows.
    sign_client_cert(pki, "kubelet-client", "kube-apiserver-kubelet-client", "system:masters")


def sign_client_cert(
    pki: Path, name: str, user: str, group: str, *, ca_dir: Path | None = None
) -> None:
    """``<name>.key`` + ``<name>.crt`` in ``pki``: a client certificate for ``user`` in
    ``group``, signed by the CA in ``ca_dir`` (default: ``pki``)."""
    ca_dir = (ca_dir or pki).resolve()
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/O={group}/CN={user}",
        cwd=pki,
    )
    (pki / f"{name}.cnf").write_text(
        "[ext]\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        str(ca_dir / "ca.crt"),
        "-CAkey",
        str(ca_dir / "ca.key"),
        "-CAcreateserial",
        "-CAserial",
        str(pki / f"{name}.srl"),
        "-days",
        "3650",
        "-out",
        f"{name}.crt",
        "-extfile",
        f"{name}.cnf",
        "-extensions",
        "ext",
        cwd=pki,
    )


def kubeconfig_text(server: str, ca: Path, tokens: dict[str, str], current: str) -> str:
    """A kubeconfig with one context per user; JSON is valid YAML."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "baton-local", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": {"token": token}} for user, token in tokens.items()],
        "contexts": [
            {"name": user, "context": {"cluster": "baton-local", "user": user}} for user in tokens
        ],
        "current-context": current,
    }
    return json.dumps(config, indent=2) + "\n"


@dataclass
class Processes:
    """Long-running components, each in its own process group, logs in ``workdir/logs``."""

    workdir: Path
    pids: dict[str, int] = field(default_factory=dict)
    #: Children started by this process (absent after ``load``): kept so they are reaped.
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    #: Each component's command line, so a fault test can restart it as it was.
    argv: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    def state(self) -> dict[str, object]:
        """What ``save`` records (subclasses add their endpoints)."""
        return {"pids": self.pids}

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state()))

    def kill(self, name: str) -> None:
        """SIGKILL one component (fault injection); ``restart`` brings it back."""
        os.killpg(self.pids[name], signal.SIGKILL)
        while self.alive(name):
            time.sleep(0.05)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self.pids[name] = proc.pid
        self.procs[name] = proc
        self.argv[name] = argv
        self.save()

    def alive(self, name: str) -> bool:
        pid = self.pids.get(name)
        if pid is None:
            return False
        if name in self.procs:
            return self.procs[name].poll() is None
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _failure(self, name: str) -> str:
        logfile = self.workdir / "logs" / f"{name}.log"
        tail = logfile.read_text(errors="replace").splitlines()[-25:] if logfile.exists() else []
        return f"{name} did not start; last lines of {logfile}:\n" + "\n".join(tail)

    def _wait(self, check: Callable[[], bool], name: str, timeout: float, t0: float) -> None:
        while not check():
            if not self.alive(name):
                self.stop()
                raise RuntimeError(self._failure(name))
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"{name} not ready after {timeout:.0f}s\n" + self._failure(name))
            time.sleep(0.2)
        log(f"{name} ready after {time.monotonic() - t0:.1f}s")

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM every component (reverse start order), SIGKILL stragglers, wait for all."""
        self.stop_some(list(reversed(self.pids)), grace=grace)
        self.procs.clear()
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def stop_some(self, names: list[str], *, grace: float = 15.0) -> None:
        """Stop ``names`` as ``stop`` does, leaving the other components running."""
        names = [name for name in names if name in self.pids]
        for name in names:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pids[name], signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in names:
            while self.alive(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.alive(name):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pids[name], signal.SIGKILL)
                while self.alive(name):
                    time.sleep(0.05)
        for name in names:
            del self.pids[name]
            proc = self.procs.pop(name, None)
            if proc:
                proc.wait()
        if self.pids:
            self.save()


@dataclass
class ControlPlane(Processes):
    """A running control plane rooted at ``workdir`` (state, logs, pids, kubeconfig)."""

    server: str = ""
    etcd_url: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def state(self) -> dict[str, object]:
        return {"server": self.server, "pids": self.pids}

    @classmethod
    def load(cls, workdir: Path) -> ControlPlane | None:
        state = workdir / "state.json"
        if not state.exists():
            return None
        data = json.loads(state.read_text())
        return cls(workdir=workdir, server=data["server"], pids=data["pids"])

    def restart(self, name: str, *, timeout: float = 60.0) -> None:
        """Start ``name`` again with its original command line and wait until it serves."""
        self._spawn(name, self.argv[name])
        deadline = time.monotonic() + timeout
        ready = {
            "etcd": lambda: _http_ok(f"{self.etcd_url}/health"),
            "kube-apiserver": self._ready_as_admin,
        }.get(name, lambda: True)
        while not ready():
            if time.monotonic() > deadline or not self.alive(name):
                raise RuntimeError(self._failure(name))
            time.sleep(0.2)

    def _ready_as_admin(self) -> bool:
        token = json.loads(self.kubeconfig.read_text())["users"][0]["user"]["token"]
        return self._readyz(token, self.workdir / "pki" / "ca.crt")

    def start(self, bin_dir: Path, *, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = self.workdir / "pki"
        generate_pki(pki)
        tokens = {ADMIN_USER: secrets.token_hex(16), NON_ADMIN_USER: secrets.token_hex(16)}
        (pki / "tokens.csv").write_text(
            f'{tokens[ADMIN_USER]},{ADMIN_USER},uid-admin,"system:masters"\n'
            f'{tokens[NON_ADMIN_USER]},{NON_ADMIN_USER},uid-alice,"baton:testers"\n'
        )
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        self.kubeconfig.write_text(kubeconfig_text(self.server, pki / "ca.crt", tokens, ADMIN_USER))
        self.kubeconfig.chmod(0o600)

        etcd_url = self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                str(bin_dir / "etcd"),
                "--name=baton",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=baton=http://127.0.0.1:{peer_port}",
                "--listen-metrics-urls=",
                "--quota-backend-bytes=8589934592",
                # Test data only: skipping fsync makes the suite several times faster.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait(lambda: _http_ok(f"{etcd_url}/health"), "etcd", timeout, t0)

        self._spawn(
            "kube-apiserver",
            [
                str(bin_dir / "kube"),
                "apiserver",
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                # A kubelet (tests/cluster/node.py) may only touch its own Node and pods.
                "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                # A node's name is no DNS name here; its InternalIP is the address to use.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                "--anonymous-auth=false",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                # 127.0.0.1 cannot back the kubernetes Service; nothing here needs it yet.
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--max-requests-inflight=2000",
                "--max-mutating-requests-inflight=1000",
                "--v=1",
            ],
        )
        self._wait(
            lambda: self._readyz(tokens[ADMIN_USER], pki / "ca.crt"), "kube-apiserver", timeout, t0
        )

        self._spawn(
            "kube-controller-manager",
            [
                str(bin_dir / "kube"),
                "controller-manager",
                f"--kubeconfig={self.kubeconfig}",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--use-service-account-credentials=false",
                "--v=1",
            ],
        )
        time.sleep(1.0)
        if not self.alive("kube-controller-manager"):
            failure = self._failure("kube-controller-manager")
            self.stop()
            raise RuntimeError(failure)
        log(
            f"ready in {time.monotonic() - t0:.1f}s at {self.server}; kubeconfig: {self.kubeconfig}"
        )

    def _readyz(self, token: str, ca: Path) -> bool:
        context = ssl.create_default_context(cafile=str(ca))
        request = urllib.request.Request(
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                return bool(response.status == 200 and response.read() == b"ok")
        except OSError:
            return False


@contextlib.contextmanager
def cluster_kubeconfig(workdir: Path) -> Iterator[Path]:
    """The kubeconfig of ``$KUBECONFIG``'s cluster if set, else of a private control plane
    started under ``workdir`` (from the cached build) and stopped on leaving."""
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        yield Path(explicit)
        return
    plane = ControlPlane(workdir=workdir)
    plane.start(build())
    try:
        yield plane.kubeconfig
    finally:
        plane.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def up(workdir: Path) -> ControlPlane:
    existing = ControlPlane.load(workdir)
    if existing and all(existing.alive(n) for n in existing.pids):
        log(f"already running at {existing.server}")
        return existing
    if existing:
        existing.stop()
    for stale in ("etcd", "pki", "logs"):
        subprocess.run(["rm", "-rf", str(workdir / stale)], check=True)
    plane = ControlPlane(workdir=workdir)
    plane.start(build())
    return plane


def down(workdir: Path) -> None:
    plane = ControlPlane.load(workdir)
    if plane is None:
        log("not running")
        return
    plane.stop()
    log("stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=ROOT / ".cluster")
    args = parser.parse_args()
    workdir = args.dir.resolve()
    if args.command == "build":
        print(build())
    elif args.command == "up":
        up(workdir)
    elif args.command == "down":
        down(workdir)
    else:
        plane = ControlPlane.load(workdir)
        running = {n: plane.alive(n) for n in plane.pids} if plane else {}
        print(json.dumps({"server": plane.server if plane else None, "running": running}))
        return 0 if running and all(running.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
