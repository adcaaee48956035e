"""``baton ui`` as a real server for the UI tier."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from clusterkit import ROOT, Cluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class UiServer:
    """``baton ui`` for one kubeconfig context, as a subprocess with its output in a file."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        context: str | None,
        log: Path,
        *,
        kubeconfig: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [
            sys.executable,
            "-m",
            "baton.cli",
            "--kubeconfig",
            str(kubeconfig or cluster.kubeconfig),
            *(["--context", context] if context else []),
            "ui",
            "-n",
            namespace,
            "--port",
            str(self.port),
            *extra,
        ]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"baton ui exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/static/baton.css", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()  # not left running: no fixture knows of it yet
                raise AssertionError(f"baton ui did not answer in 60 s:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
