"""The first minute of `make demo`/`make test`: the bootstrap scripts from an empty cache.

Run as make runs them, with uv's virtualenv (no pip) first on PATH and a new empty
BATON_CACHE, so a script that assumes `python3 -m pip`, a uv on PATH, or a file outside
its own folder fails here rather than on a newcomer's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # uv's .venv/bin: a python3 without pip


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_venv_python_has_no_pip() -> None:
    """The premise: the interpreter first on make's PATH cannot run pip."""
    done = subprocess.run(
        [str(VENV_BIN / "python3"), "-c", "import pip"], capture_output=True, check=False
    )
    assert done.returncode != 0


def test_tools_script_alone_from_an_empty_cache(tmp_path: Path) -> None:
    """tests/cluster/tools.sh copied on its own into an empty tree still installs both tools."""
    script = tmp_path / "repo" / "tests" / "cluster" / "tools.sh"
    script.parent.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "cluster" / "tools.sh", script)
    env = {
        **os.environ,
        "BATON_CACHE": str(tmp_path / "cache"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    env.pop("PYTHON", None)
    run(["bash", str(script)], env)
    bindir = tmp_path / "repo" / ".cluster" / "bin"
    kubectl = run([str(bindir / "kubectl"), "version", "--client"], env).stdout
    assert "Client Version: v1.37" in kubectl
    assert run([str(bindir / "helm"), "version", "--short"], env).stdout.startswith("v")


def test_uv_bootstrap_without_uv_on_path(tmp_path: Path) -> None:
    """hack/uv.sh with no uv anywhere on PATH: installs the pinned one into the cache."""
    env = {
        **os.environ,
        "BATON_CACHE": str(tmp_path / "cache"),
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
    }
    assert shutil.which("uv", path=env["PATH"]) is None
    done = run(["bash", str(ROOT / "hack" / "uv.sh"), "--version"], env)
    assert done.stdout.startswith("uv 0.13.9")
    assert (tmp_path / "cache" / "uv-0.13.9" / "bin" / "uv").exists()
