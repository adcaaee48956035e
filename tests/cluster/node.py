"""A real node next to the local control plane: containerd, kubelet and kube-scheduler.

With it, a FlowRun's Job becomes a pod that containerd runs from the flow image, with
nothing simulated: the e2e tier (tests/e2e) and ``make e2e-up`` use it. Everything comes
from this machine: the kubelet and scheduler from the same pinned ``kube`` binary as the
control plane (tests/cluster/build.sh), containerd, runc and the CNI plugins from Debian,
the images from tests/cluster/images.sh (no registry).

Choices (docs/node.md explains them):

- **cgroup v1, cgroupfs driver.** The machine mounts cgroup v1 hierarchies (hybrid), and
  no systemd is PID 1 to delegate to, so the kubelet runs with ``cgroupDriver: cgroupfs``
  and ``failCgroupV1: false`` (kubelets since 1.35 refuse cgroup v1 without it).
- **A CNI bridge.** Pods get addresses from ``POD_CIDR`` on the bridge ``BRIDGE``, whose
  address is also the node's InternalIP (a kubelet refuses a loopback node IP). No IP
  masquerading and no forwarding: pod traffic never leaves this machine.
- **The kubernetes Service without kube-proxy.** Pods reach the API server at
  ``SERVICE_IP:443`` (the ``kubernetes`` Service every in-cluster client uses): that
  address is put on ``lo`` and a small TCP relay (``node.py relay``) passes connections to
  the API server on 127.0.0.1. TLS goes end to end; the serving certificate names the IP.

Only one node runs per machine (the bridge, the relay address and the kubelet's cgroups
are machine-wide); ``/run/baton-node/owner`` names the directory of the one running.

    python tests/cluster/node.py up   [--dir .cluster]   # control plane + node + chart
    python tests/cluster/node.py down [--dir .cluster]
    python tests/cluster/node.py images                  # build (cached); print the archive

Standard library only, like controlplane.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# tests/cluster is on sys.path: the script's own directory, or clusterkit adds it.
import controlplane
from controlplane import ControlPlane, Processes, free_port, log

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

NODE_NAME = "baton-node"
BRIDGE = "batonbr0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
#: The ``kubernetes`` Service's ClusterIP: the first address of the control plane's range.
SERVICE_IP = "10.96.0.1"
#: Sockets and containerd's state: a unix socket path must stay under 108 bytes.
RUN_DIR = Path("/run/baton-node")
OWNER = RUN_DIR / "owner"
CONTAINERD_SOCK = RUN_DIR / "containerd.sock"
CNI_BIN = Path("/usr/lib/cni")
#: The images tests/cluster/images.sh builds (the chart's appVersion).
VERSION = "0.1.0"
PAUSE_IMAGE = f"baton-pause:{VERSION}"


def build_images() -> Path:
    """Build (or reuse the cached) image archive; return its path."""
    result = subprocess.run(
        ["bash", str(HERE / "images.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(result.stdout.strip().splitlines()[-1])


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result


def _ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(
        "ctr", "--address", str(CONTAINERD_SOCK), "--namespace", "k8s.io", *args, check=check
    )


def containerd_config(root: Path, cni_conf: Path) -> str:
    """containerd 1.6 (config version 2): private sockets and state, the CRI plugin."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{root}"
state = "{RUN_DIR / "containerd"}"

[grpc]
  address = "{CONTAINERD_SOCK}"
[ttrpc]
  address = "{CONTAINERD_SOCK}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # The machine withholds CAP_SYS_RESOURCE even from root, so no process may lower its
  # oom_score_adj (runc would fail on the sandbox's -998): never go below containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"""


def cni_config(ipam_dir: Path) -> dict[str, Any]:
    """A bridge on our own range; the bridge (made by us) holds the gateway address."""
    return {
        "cniVersion": "0.4.0",
        "name": "baton",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                # The gateway address is on the bridge already; isGateway would also turn
                # on IP forwarding machine-wide, which nothing here needs.
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            }
        ],
    }


def kubelet_config(pki: Path, port: int, healthz_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # cgroup v1 hierarchies and no systemd as PID 1 (see the module docstring).
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCK}",
        "address": GATEWAY,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "failSwapOn": False,
        "resolvConf": "/etc/resolv.conf",
        # The disk is shared with other work: never evict pods or delete the side-loaded
        # images (nothing could pull them again) because of its fill level.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "shutdownGracePeriod": "0s",
        "volumePluginDir": str(pki.parent / "kubelet" / "volume-plugins"),
    }


def kubelet_kubeconfig(server: str, pki: Path) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "baton-local",
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": "kubelet",
                "user": {
                    "client-certificate": str(pki / "kubelet.crt"),
                    "client-key": str(pki / "kubelet.key"),
                },
            }
        ],
        "contexts": [{"name": "kubelet", "context": {"cluster": "baton-local", "user": "kubelet"}}],
        "current-context": "kubelet",
    }
    return json.dumps(config, indent=2) + "\n"


def _mounts_under(*prefixes: Path) -> list[str]:
    """Mount points below any of ``prefixes``, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(p) or point.startswith(f"{p}/") for p in prefixes):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _shim_pids() -> list[int]:
    """containerd shims that serve our containerd (nothing else uses its socket path)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and argv[0].endswith(b"containerd-shim-runc-v2")
            and str(CONTAINERD_SOCK).encode() in argv
        ):
            pids.append(int(proc.name))
    return pids


def teardown_machine(workdir: Path | None) -> None:
    """Undo what a node changed outside its directory; safe to repeat."""
    for pid in _shim_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    prefixes = [RUN_DIR] + ([workdir] if workdir else [])
    for point in _mounts_under(*prefixes):
        if _run("umount", point, check=False).returncode != 0:
            _run("umount", "-l", point, check=False)
    _run("ip", "link", "del", BRIDGE, check=False)
    _run("ip", "addr", "del", f"{SERVICE_IP}/32", "dev", "lo", check=False)
    shutil.rmtree(RUN_DIR, ignore_errors=True)


@dataclass
class Node(Processes):
    """containerd + kubelet + kube-scheduler + the Service relay, rooted at ``workdir``."""

    @classmethod
    def load(cls, workdir: Path) -> Node | None:
        state = workdir / "state.json"
        if not state.exists():
            return None
        return cls(workdir=workdir, pids=json.loads(state.read_text())["pids"])

    def start(
        self, plane: ControlPlane, bin_dir: Path, images: Path, *, timeout: float = 180
    ) -> None:
        t0 = time.monotonic()
        self._claim_machine()
        try:
            self._start(plane, bin_dir, images, timeout, t0)
        except BaseException:
            self.stop()
            raise
        log(f"node {NODE_NAME} Ready after {time.monotonic() - t0:.1f}s")

    def _claim_machine(self) -> None:
        if OWNER.exists():
            owner = Path(OWNER.read_text().strip())
            other = Node.load(owner)
            if owner != self.workdir and other and any(other.alive(n) for n in other.pids):
                raise RuntimeError(
                    f"a Baton node is already running on this machine (state in {owner}); "
                    "stop it first (make e2e-down)"
                )
            if other:
                other.stop()
            teardown_machine(owner)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        OWNER.write_text(f"{self.workdir}\n")

    def _start(
        self, plane: ControlPlane, bin_dir: Path, images: Path, timeout: float, t0: float
    ) -> None:
        work = self.workdir
        for stale in ("pki", "kubelet", "containerd", "cni", "cni-ipam", "logs"):
            shutil.rmtree(work / stale, ignore_errors=True)
        pki = work / "pki"
        pki.mkdir(parents=True)
        shutil.copy(plane.workdir / "pki" / "ca.crt", pki / "ca.crt")
        controlplane.sign_client_cert(
            pki,
            "kubelet",
            f"system:node:{NODE_NAME}",
            "system:nodes",
            ca_dir=plane.workdir / "pki",
        )
        # The network: our bridge with the gateway (= node) address, the Service IP on lo.
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{GATEWAY}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        _run("ip", "addr", "add", f"{SERVICE_IP}/32", "dev", "lo")
        (work / "cni").mkdir()
        (work / "cni" / "10-baton.conflist").write_text(json.dumps(cni_config(work / "cni-ipam")))
        (work / "containerd.toml").write_text(containerd_config(work / "containerd", work / "cni"))

        self._spawn("containerd", ["containerd", "--config", str(work / "containerd.toml")])
        self._wait(lambda: _ctr("version", check=False).returncode == 0, "containerd", timeout, t0)
        _ctr("images", "import", str(images))
        log(f"images imported after {time.monotonic() - t0:.1f}s")

        (work / "kubelet.json").write_text(
            json.dumps(kubelet_config(pki, free_port(), free_port()), indent=2)
        )
        (work / "kubelet.kubeconfig").write_text(kubelet_kubeconfig(plane.server, pki))
        self._spawn(
            "kubelet",
            [
                str(bin_dir / "kube"),
                "kubelet",
                f"--config={work / 'kubelet.json'}",
                f"--kubeconfig={work / 'kubelet.kubeconfig'}",
                f"--root-dir={work / 'kubelet'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={GATEWAY}",
                "--v=1",
            ],
        )
        api = plane.server.removeprefix("https://")
        self._spawn(
            "service-relay",
            [sys.executable, str(Path(__file__).resolve()), "relay", f"{SERVICE_IP}:443", api],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(bin_dir / "kube"),
                "scheduler",
                f"--kubeconfig={plane.kubeconfig}",
                f"--authentication-kubeconfig={plane.kubeconfig}",
                f"--authorization-kubeconfig={plane.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--v=1",
            ],
        )
        self._wait(lambda: self._node_ready(plane), "kubelet", timeout, t0)
        for name in self.pids:
            if not self.alive(name):
                raise RuntimeError(self._failure(name))

    def _node_ready(self, plane: ControlPlane) -> bool:
        config = json.loads(plane.kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        context = ssl.create_default_context(cafile=str(plane.workdir / "pki" / "ca.crt"))
        request = urllib.request.Request(
            f"{plane.server}/api/v1/nodes/{NODE_NAME}",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                node = json.loads(response.read())
        except OSError:
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def stop(self, *, grace: float = 15.0) -> None:
        """Kubelet first, then every container (so no shim, mount or netns outlives the
        node), then containerd; finally the bridge and the Service address."""
        self.stop_some(["kube-scheduler", "service-relay", "kubelet"], grace=grace)
        if self.alive("containerd"):
            tasks = _ctr("tasks", "ls", "-q", check=False).stdout.split()
            for task in tasks:
                _ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
            for task in tasks:
                _ctr("tasks", "delete", "--force", task, check=False)
            containers = _ctr("containers", "ls", "-q", check=False).stdout.split()
            if containers:
                _ctr("containers", "delete", *containers, check=False)
        super().stop(grace=grace)
        teardown_machine(self.workdir)


def install_operator(
    kubeconfig: Path,
    runner_namespaces: list[str],
    *,
    env: dict[str, str] | None = None,
    release: str = "baton",
    namespace: str = "baton-system",
) -> None:
    """``helm install`` the chart with the locally built images, as users do; wait for it."""
    argv = [
        str(ROOT / ".cluster" / "bin" / "helm"),
        f"--kubeconfig={kubeconfig}",
        "upgrade",
        "--install",
        release,
        str(ROOT / "charts" / "baton"),
        "--namespace",
        namespace,
        "--create-namespace",
        "--wait",
        "--timeout=300s",
        # The images exist only on the node (side-loaded): never try to pull them.
        "--set=image.pullPolicy=Never",
        "--set=runner.namespaces={" + ",".join(runner_namespaces) + "}",
    ]
    for index, (name, value) in enumerate((env or {}).items()):
        argv += [
            f"--set=operator.env[{index}].name={name}",
            f"--set-string=operator.env[{index}].value={value}",
        ]
    _run(*argv)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def relay(listen: str, target: str) -> None:
    """Accept on ``listen`` and pass each connection, bytes unchanged, to ``target``."""
    listen_host, listen_port = listen.rsplit(":", 1)
    target_host, target_port = target.rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, int(target_port)
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, listen_host, int(listen_port))
    async with server:
        await server.serve_forever()


def up(workdir: Path) -> None:
    t0 = time.monotonic()
    plane = controlplane.up(workdir)
    images = build_images()
    node_dir = workdir / "node"
    existing = Node.load(node_dir)
    if existing and all(existing.alive(n) for n in existing.pids):
        log("node already running")
    else:
        node = Node(workdir=node_dir)
        node.start(plane, controlplane.build(), images)
    install_operator(plane.kubeconfig, ["default"])
    log(f"e2e environment up in {time.monotonic() - t0:.1f}s: operator installed from the chart")


def down(workdir: Path) -> None:
    node = Node.load(workdir / "node")
    if node:
        node.stop()
        log("node stopped")
    elif OWNER.exists() and Path(OWNER.read_text().strip()) == workdir / "node":
        teardown_machine(workdir / "node")  # its processes are gone; undo what remains
    controlplane.down(workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down"):
        sub.add_parser(name).add_argument("--dir", type=Path, default=ROOT / ".cluster")
    sub.add_parser("images")
    relay_parser = sub.add_parser("relay")
    relay_parser.add_argument("listen")
    relay_parser.add_argument("target")
    args = parser.parse_args()
    if args.command == "up":
        up(args.dir.resolve())
    elif args.command == "down":
        down(args.dir.resolve())
    elif args.command == "images":
        print(build_images())
    else:
        asyncio.run(relay(args.listen, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
