"""`make demo`: Baton scheduling and running flows on a real (local) Kubernetes control plane.

What it does, printing a progress line for each step:

1. starts a private control plane (etcd, kube-apiserver, kube-controller-manager built from
   Kubernetes' Go modules by tests/cluster; cached after the first build) in a temporary
   directory — or, when KUBECONFIG is set, uses that cluster and a fresh namespace in it;
2. applies the CRDs from crds/ and starts `baton operator` for the demo namespace;
3. `baton deploy`s examples/flows/etl.py:etl with a process WorkPool `demo` and an interval
   schedule of 10 seconds, and starts `baton worker start -p demo` with examples/ as its
   work directory (entrypoints are relative to it);
4. waits for two scheduled runs to reach Completed (at most 120 s; on failure it prints the
   operator's and the worker's last log lines), then shows `kubectl get flowruns` and
   `baton describe` of one run;
5. stops everything it started (and the private control plane) and exits 0 only if all
   of this worked.

    .venv/bin/python examples/demo.py                      # private control plane
    KUBECONFIG=.cluster/kubeconfig .venv/bin/python examples/demo.py   # existing cluster
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KUBECTL = ROOT / ".cluster" / "bin" / "kubectl"
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import controlplane  # noqa: E402

RUNS_WANTED = 2
TIMEOUT_SECONDS = float(os.environ.get("BATON_DEMO_TIMEOUT", "120"))
INTERVAL_SECONDS = 10
TERMINAL = {"Completed", "Failed", "TimedOut", "Crashed", "Cancelled"}
T0 = time.monotonic()


class DemoFailed(Exception):
    pass


def step(message: str) -> None:
    print(f"[demo {time.monotonic() - T0:6.1f}s] {message}", flush=True)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log, without kopf's routine "Handler ... succeeded" lines."""
    if not path.exists():
        return f"({path} does not exist)"
    kept = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if not ("Handler '" in line and "succeeded" in line)
    ]
    return "\n".join(f"    {line}" for line in kept[-lines:])


class Demo:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="baton-demo-"))
        self.plane: Any = None
        self.kubeconfig = Path()
        self.namespace = f"baton-demo-{secrets.token_hex(3)}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ)

    # -- helpers ---------------------------------------------------------------------
    def kubectl(self, *args: str, check: bool = True) -> str:
        argv = [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", *args]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        if check and done.returncode != 0:
            raise DemoFailed(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def baton(self, *args: str) -> str:
        argv = [sys.executable, "-m", "baton.cli", *args, "-n", self.namespace]
        done = subprocess.run(
            argv, cwd=EXAMPLES, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DemoFailed(f"baton {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def spawn(self, name: str, *args: str) -> None:
        with open(self.tmp / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "baton.cli", *args],
                cwd=EXAMPLES,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    # -- steps -------------------------------------------------------------------------
    def start_cluster(self) -> None:
        if not KUBECTL.exists():
            step("fetching kubectl into .cluster/bin")
            subprocess.run(["bash", str(ROOT / "tests" / "cluster" / "tools.sh")], check=True)
        explicit = os.environ.get("KUBECONFIG")
        if explicit:
            self.kubeconfig = Path(explicit.split(os.pathsep)[0]).resolve()
            step(f"using the cluster of KUBECONFIG={self.kubeconfig}")
        else:
            step("building the control plane (cached; the first build takes ~20 min on 2 cores)")
            bin_dir = controlplane.build()
            step("starting a private etcd + kube-apiserver + kube-controller-manager on 127.0.0.1")
            self.plane = controlplane.ControlPlane(workdir=self.tmp / "controlplane")
            self.plane.start(bin_dir)
            self.kubeconfig = self.plane.kubeconfig
        self.env["KUBECONFIG"] = str(self.kubeconfig)
        step("applying the CRDs (kubectl apply -f crds/)")
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        self.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds")
        )
        self.kubectl("create", "namespace", self.namespace)
        step(f"namespace {self.namespace} created")

    def start_baton(self) -> None:
        port = controlplane.free_port()
        step("starting the operator: baton operator -n " + self.namespace)
        self.spawn(
            "operator",
            "operator",
            "-n",
            self.namespace,
            f"--liveness=http://127.0.0.1:{port}/healthz",
        )
        step(
            "baton deploy flows/etl.py:etl --name etl --pool demo --pool-type process "
            f"--interval {INTERVAL_SECONDS}"
        )
        out = self.baton(
            "deploy",
            "flows/etl.py:etl",
            "--name",
            "etl",
            "--pool",
            "demo",
            "--pool-type",
            "process",
            "--interval",
            str(INTERVAL_SECONDS),
        )
        for line in out.splitlines():
            step(f"  {line}")
        step("starting a process worker: baton worker start -p demo (work dir examples/)")
        self.spawn(
            "worker",
            "worker",
            "start",
            "-p",
            "demo",
            "-n",
            self.namespace,
            "--work-dir",
            str(EXAMPLES),
            "--log-dir",
            str(self.tmp / "run-logs"),
            "--heartbeat-seconds",
            "5",
        )

    def wait_for_runs(self) -> list[str]:
        from baton._kube.client import FLOWRUNS, KubeClient  # noqa: PLC0415
        from baton._kube.config import load  # noqa: PLC0415

        step(f"waiting for {RUNS_WANTED} scheduled runs to complete (every {INTERVAL_SECONDS}s)")
        deadline = time.monotonic() + TIMEOUT_SECONDS
        seen: dict[str, str] = {}
        with KubeClient(load(str(self.kubeconfig))) as client:
            while True:
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise DemoFailed(f"the {name} exited with code {proc.returncode}")
                runs = client.list(FLOWRUNS, self.namespace)
                for run in sorted(runs, key=lambda r: r["metadata"]["name"]):
                    name = run["metadata"]["name"]
                    state = (run.get("status") or {}).get("state") or "New"
                    if seen.get(name) != state:
                        seen[name] = state
                        step(f"  {name}: {state}")
                    if state in TERMINAL - {"Completed"}:
                        raise DemoFailed(f"run {name} ended {state}")
                done = sorted(n for n, s in seen.items() if s == "Completed")
                if len(done) >= RUNS_WANTED:
                    return done
                if time.monotonic() > deadline:
                    raise DemoFailed(
                        f"only {len(done)} of {RUNS_WANTED} runs completed "
                        f"within {TIMEOUT_SECONDS:.0f}s"
                    )
                time.sleep(0.5)

    def show(self, completed: list[str]) -> None:
        step(f"kubectl get flowruns -n {self.namespace}")
        print(self.kubectl("get", "flowruns", "-n", self.namespace), flush=True)
        step(f"baton describe {completed[0]}")
        print(self.baton("describe", completed[0]), flush=True)

    def stop(self) -> None:
        for name, proc in reversed(self.procs.items()):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                step(f"stopped the {name}")
        if self.plane is not None:
            self.plane.stop(grace=3.0)  # throw-away state: no need to wait long
            step("stopped the private control plane")
        elif self.kubeconfig.name and self.kubeconfig.exists():
            self.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
            step(f"deleted namespace {self.namespace}")

    def failure_report(self) -> None:
        for name in self.procs:
            print(f"--- last lines of the {name}'s log ---\n{tail(self.tmp / f'{name}.log')}")


def main() -> int:
    demo = Demo()
    ok = False
    try:
        demo.start_cluster()
        demo.start_baton()
        completed = demo.wait_for_runs()
        demo.show(completed)
        ok = True
    except (DemoFailed, RuntimeError, subprocess.SubprocessError, OSError) as error:
        step(f"demo failed: {error}")
        demo.failure_report()
    except KeyboardInterrupt:
        step("demo interrupted")
    finally:
        with contextlib.suppress(Exception):
            demo.stop()
        if ok:
            shutil.rmtree(demo.tmp, ignore_errors=True)
        else:
            step(f"logs kept in {demo.tmp}")
    step(f"{'done' if ok else 'FAILED'} in {time.monotonic() - T0:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
