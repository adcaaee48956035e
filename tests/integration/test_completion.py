"""Shell completion as users get it: real bash, fish and kubectl, run names from the API server.

The shells source the scripts `baton completion bash|fish` print and complete through the
installed `baton` (this virtualenv's console script); kubectl completes `kubectl baton ...`
through the installed `kubectl_complete-baton`. Run names come from the real API server.
fish is installed by `make test` (the Debian packages step); without it this test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from worker_helpers import baton, env_for

from clusterkit import ROOT, Cluster
from kube_helpers import apply

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent  # baton, kubectl-baton, kubectl_complete-baton


def shell_env(cluster: Cluster) -> dict[str, str]:
    return {**env_for(cluster), "PATH": f"{BIN}:{ROOT / '.cluster' / 'bin'}:{os.environ['PATH']}"}


def seed_runs(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        *(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "FlowRun",
                "metadata": {"name": name},
                "spec": {"flowRef": {"name": "etl"}},
            }
            for name in ("etl-100", "etl-200", "report-1")
        ),
    )


def test_bash_completes_commands_options_and_run_names(crds: Cluster, namespace: str) -> None:
    seed_runs(crds, namespace)
    script = baton(crds, "completion", "bash").stdout
    program = script + "\n".join(
        f'COMP_WORDS=({words}); COMP_CWORD={cword}; _baton_complete; echo "${{COMPREPLY[*]}}"'
        for words, cword in (
            ("baton worker st", 2),
            ("baton run etl --wa", 3),
            (f"baton -n {namespace} describe etl-", 4),
            ("baton runs -o j", 3),
        )
    )
    done = subprocess.run(
        ["bash", "-c", program], env=shell_env(crds), capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["start", "--watch", "etl-100 etl-200", "json"]


def test_fish_completes(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    fish = shutil.which("fish")
    assert fish, "fish is not installed: `make node-packages` (a step of make test) installs it"
    seed_runs(crds, namespace)
    script = tmp_path / "baton.fish"
    script.write_text(baton(crds, "completion", "fish").stdout)
    program = (
        f"source {script}; complete -C 'baton worker st'; "
        f"complete -C 'baton -n {namespace} cancel rep'"
    )
    done = subprocess.run(
        [fish, "--no-config", "-c", program],
        env=shell_env(crds),
        capture_output=True,
        text=True,
        check=True,
    )
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["start", "report-1"]


def test_kubectl_completes_the_plugin(crds: Cluster, namespace: str) -> None:
    """kubectl's own completion (`kubectl __complete`) reaches kubectl_complete-baton."""
    seed_runs(crds, namespace)
    kubectl = str(ROOT / ".cluster" / "bin" / "kubectl")
    env = shell_env(crds)

    def complete(*words: str) -> list[str]:
        done = subprocess.run(
            [kubectl, "__complete", "baton", *words],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()

    assert complete("worker", "st") == ["start", ":4"]
    assert complete("-n", namespace, "logs", "etl-2") == ["etl-200", ":4"]
