"""A real S3-compatible server for the tests: versitygw (built by tests/cluster/s3.sh) with
its posix backend, on 127.0.0.1 with fresh keys. It fails loudly when it cannot start."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clusterkit import ROOT, controlplane


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    root: Path

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The runtime's environment for keeping logs in ``bucket``."""
        return {
            "BATON_LOGS_S3_BUCKET": bucket,
            "BATON_LOGS_S3_ENDPOINT": self.endpoint,
            "BATON_LOGS_S3_REGION": "us-east-1",
            "BATON_LOGS_S3_PREFIX": prefix,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def build() -> Path:
    done = subprocess.run(
        ["bash", str(ROOT / "tests" / "cluster" / "s3.sh")],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError("tests/cluster/s3.sh could not build the S3 server (see stderr)")
    return Path(done.stdout.strip().splitlines()[-1])


@contextmanager
def s3_server(directory: Path) -> Iterator[S3Server]:
    binary = build()
    root = directory / "buckets"
    root.mkdir(parents=True)
    port = controlplane.free_port()
    access, secret = f"baton{secrets.token_hex(4)}", secrets.token_hex(16)
    log = (directory / "versitygw.log").open("wb")
    proc = subprocess.Popen(
        [str(binary), "--access", access, "--secret", secret, "--port", f"127.0.0.1:{port}",
         "--quiet", "posix", str(root)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"versitygw exited {proc.returncode}: "
                    f"{(directory / 'versitygw.log').read_text()[-2000:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("versitygw did not listen within 30 s") from None
                time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}", access, secret, root)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
