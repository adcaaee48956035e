"""The real Prefect, in a virtualenv of its own, for the conformance suite and the SDK bench.

Prefect is what Baton is compared against, never one of its dependencies: it gets
its own virtualenv, created once from the exact pins in
``bench/prefect-requirements.txt`` into
``${BATON_CACHE:-~/.cache/baton}/prefect-venv-<hash of the pins>`` and reused
afterwards (a changed pin file gives a new directory). A marker file written last
makes a half-finished install (killed, disk full) count as absent; a lock keeps two
processes from building the same env at once.

``prefect_environment()`` is the environment every Prefect process must run with:
no API URL (so Prefect starts its temporary server on 127.0.0.1, nothing else),
server analytics and SDK telemetry off, and all of its state (database, results,
profiles) under a directory of the caller's choosing.

Run as a script (stdlib only) it builds the env and prints its Python::

    python3 tests/conformance/prefect_env.py
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "bench" / "prefect-requirements.txt"
PREFECT_VERSION = "3.8.8"
_MARKER = ".baton-complete"
# Variables that would point Prefect somewhere other than its private local server.
_UNSET = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH")


def cache_root() -> Path:
    return Path(os.environ.get("BATON_CACHE") or Path.home() / ".cache" / "baton")


def venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache_root() / f"prefect-venv-{digest}"


def venv_python(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "python"


def ensure_prefect_venv(*, quiet: bool = True) -> Path:
    """Create the Prefect virtualenv unless it exists; return its Python.

    Raises:
        RuntimeError: The virtualenv could not be created (no registry, a bad pin):
            callers fail, they do not skip.
    """
    venv = venv_dir()
    python = venv_python(venv)
    if (venv / _MARKER).exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / _MARKER).exists():  # another process built it while we waited
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--no-deps", "-r", str(REQUIREMENTS)],
            [str(python), "-m", "pip", "check"],
            [str(python), "-c", "import prefect; print(prefect.__version__)"],
        ]
        for argv in steps:
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(
                    f"creating the Prefect virtualenv failed at: {' '.join(argv)}\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
                )
            if not quiet:
                print(result.stdout.strip()[-500:], file=sys.stderr)
        version = result.stdout.strip()
        if version != PREFECT_VERSION:
            raise RuntimeError(f"expected Prefect {PREFECT_VERSION}, the env has {version}")
        (venv / _MARKER).write_text(version + "\n")
    return python


def prefect_environment(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a Prefect process whose state lives under ``home``.

    Prefect then talks only to the temporary API server it starts on 127.0.0.1
    (checked with ``strace -f -e trace=connect``: every connect is to 127.0.0.1),
    sends no analytics or telemetry, and reads no profile or setting of the user's.
    """
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for name in _UNSET:
        env.pop(name, None)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        }
    )
    return env


if __name__ == "__main__":
    print(ensure_prefect_venv(quiet=False))
