"""Blocks, variables and git sources against the real API server: each block type saved
as a labelled Secret and loaded back, overwrite rules, the CLI, variables in their
ConfigMap with concurrent writers, the chart's runner identity (what a flow pod holds)
unable to read any block through the API while it can use variables, and a process
worker cloning a git-sourced Flow from a real git server on 127.0.0.1 per run."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chart_support import Installed, can_i, install, service_account_kubeconfig
from pydantic import BaseModel, SecretStr
from worker_helpers import WorkerProcess, adhoc_run, process_pool, wait_for
from worker_helpers import apply as apply_baton

from baton import variables
from baton._kube.client import ApiError, KubeClient
from baton._kube.config import from_kubeconfig
from baton._store import Cluster as Place
from baton.blocks import Block
from baton.blocks.system import JSON, Secret, String
from clusterkit import Cluster, OperatorProcess
from git_server import git_server, make_repo

pytestmark = pytest.mark.integration


class Login(BaseModel):
    user: str
    password: SecretStr


class SnowflakeConnector(Block):
    account: str
    warehouse: str = "compute"
    login: Login


@contextlib.contextmanager
def place_of(cluster: Cluster, namespace: str) -> Iterator[Place]:
    """The namespace as a place for blocks and variables, with admin credentials."""
    with KubeClient(from_kubeconfig(cluster.kubeconfig)) as client:
        yield Place(client, namespace)


def stored_secret(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    secret = cluster.get_json("secret", name, "-n", namespace)
    secret["decoded"] = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    return secret


def test_each_block_type_is_a_labelled_secret_and_loads_back(crds: Cluster, namespace: str) -> None:
    with place_of(crds, namespace) as place:
        check_each_block_type(crds, namespace, place)


def check_each_block_type(crds: Cluster, namespace: str, place: Place) -> None:
    connector = SnowflakeConnector(
        account="acme", login=Login(user="etl", password=SecretStr("pw-snow-1"))
    )
    connector.save_at(place, "prod")
    Secret(value="sk-live-2").save_at(place, "api-key")
    Secret(value={"token": "tk-3"}).save_at(place, "login")
    String(value="eu-west").save_at(place, "region")
    JSON(value={"limits": [1, 2]}).save_at(place, "config")

    loaded = SnowflakeConnector.load_from(place, "prod")
    assert (loaded.account, loaded.warehouse, loaded.login.user) == ("acme", "compute", "etl")
    assert loaded.login.password.get_secret_value() == "pw-snow-1"
    assert Secret.load_from(place, "api-key").get() == "sk-live-2"
    assert Secret.load_from(place, "login").get() == {"token": "tk-3"}
    assert String.load_from(place, "region").value == "eu-west"
    assert JSON.load_from(place, "config").value == {"limits": [1, 2]}
    assert Block.load_from(place, "snowflakeconnector/prod").account == "acme"  # by slug

    secret = stored_secret(crds, namespace, "baton-block.snowflakeconnector.prod")
    assert secret["type"] == "baton.dev/block"
    assert secret["metadata"]["labels"]["baton.dev/block-type"] == "snowflakeconnector"
    assert secret["metadata"]["labels"]["baton.dev/block-name"] == "prod"
    fields = json.loads(secret["decoded"]["fields.json"])
    assert fields == {"account": "acme", "warehouse": "compute", "login": {"user": "etl"}}
    assert json.loads(secret["decoded"]["secrets.json"]) == {"login": {"password": "pw-snow-1"}}

    with pytest.raises(ValueError, match="overwrite=True"):
        Secret(value="again").save_at(place, "api-key")
    Secret(value="rotated").save_at(place, "api-key", overwrite=True)
    assert Secret.load_from(place, "api-key").get() == "rotated"
    with pytest.raises(ValueError, match="Unable to find block document named nope"):
        Secret.load_from(place, "nope")


def baton(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", *args, "--kubeconfig", str(cluster.kubeconfig),
         "-n", namespace],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_block_and_variable_commands(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    value = "pw-cli-7f3e"
    (tmp_path / "pw").write_text(value + "\n")
    made = baton(
        crds, namespace, "block", "create", "secret/db", "--field-file", f"value={tmp_path / 'pw'}"
    )
    assert made.returncode == 0, made.stderr
    again = baton(crds, namespace, "block", "create", "secret/db", "--field", "value=x")
    assert again.returncode == 1 and "overwrite" in again.stderr
    listed = baton(crds, namespace, "block", "ls")
    assert "secret  db" in listed.stdout, listed.stdout
    shown = baton(crds, namespace, "block", "inspect", "secret/db")
    assert json.loads(shown.stdout)["secretFields"] == {"value": "********"}
    assert value not in shown.stdout + listed.stdout + made.stdout + made.stderr
    with place_of(crds, namespace) as place:
        assert Secret.load_from(place, "db").get() == value
    assert baton(crds, namespace, "block", "delete", "secret/db").returncode == 0
    assert "no blocks" in baton(crds, namespace, "block", "ls").stdout

    assert baton(crds, namespace, "variable", "set", "limits", "[1, 2]").returncode == 0
    assert baton(crds, namespace, "variable", "get", "limits").stdout.strip() == "[1, 2]"
    refused = baton(crds, namespace, "variable", "set", "limits", "3")
    assert refused.returncode == 1 and "overwrite=True" in refused.stderr
    assert baton(crds, namespace, "variable", "set", "limits", "3", "--overwrite").returncode == 0
    assert "limits" in baton(crds, namespace, "variable", "ls").stdout
    assert baton(crds, namespace, "variable", "unset", "limits").returncode == 0
    assert baton(crds, namespace, "variable", "get", "limits").returncode == 1


def test_variables_live_in_one_configmap_and_concurrent_writers_lose_nothing(
    crds: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(crds.kubeconfig))
    monkeypatch.setenv("BATON_STORE", "cluster")
    monkeypatch.setenv("BATON_FLOW_RUN_NAMESPACE", namespace)  # as in a process worker's run
    V = variables.Variable
    assert V.get("region", "none") == "none"
    V.set("region", "eu", tags=["geo"])
    with pytest.raises(ValueError, match="already exists"):
        V.set("region", "us")
    V.set("region", {"primary": "us"}, overwrite=True)
    assert V.get("region") == {"primary": "us"}

    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            V.set(f"w{index}", index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = crds.get_json("configmap", "baton-variables", "-n", namespace)
    assert {k: json.loads(v) for k, v in stored["data"].items()} == {
        "region": {"primary": "us"},
        **{f"w{i}": i for i in range(8)},
    }
    assert V.unset("region") is True
    assert V.unset("region") is False


# -- what a flow pod's identity can do --------------------------------------------------------
@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(crds) as inst:
        yield inst


def test_the_runner_identity_reads_no_block_but_uses_variables(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    ns = installed.namespace
    with place_of(crds, ns) as admin:
        Secret(value="never-for-the-runner").save_at(admin, "db")
    path = service_account_kubeconfig(crds, ns, "baton-runner", tmp_path / "runner.yaml")
    with KubeClient(from_kubeconfig(path)) as client:
        check_runner(crds, installed, Place(client, ns))


def check_runner(crds: Cluster, installed: Installed, runner: Place) -> None:
    ns = runner.namespace
    with pytest.raises(ApiError) as raised:
        Secret.load_from(runner, "db")
    assert raised.value.status == 403
    assert f'User "{installed.runner_sa(ns)}" cannot get resource "secrets"' in raised.value.message
    assert not can_i(crds, installed.runner_sa(ns), "get", "secrets", "-n", ns)
    assert not can_i(crds, installed.runner_sa(ns), "list", "secrets", "-n", ns)
    assert not can_i(crds, installed.operator_sa, "get", "secrets", "-n", ns)
    variables.set_at(runner, "from-the-runner", {"ok": True})
    assert variables.get_at(runner, "from-the-runner") == ({"ok": True}, [])


# -- a process worker clones a git-sourced Flow per run ---------------------------------------
WORKER_FLOW = """
from baton import flow

VERSION = "{version}"


@flow
def versioned() -> str:
    return VERSION
"""


def test_a_process_worker_clones_each_run_and_records_its_commit(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    password = "tok-worker-51c0"
    (tmp_path / "srv").mkdir()
    (tmp_path / "scratch").mkdir()
    copy = make_repo(tmp_path / "srv", "flows", tmp_path / "scratch")
    first = copy.commit({"sub/flows.py": WORKER_FLOW.format(version="A")}, "A")
    for name, secret in (("git-creds", password), ("git-wrong", "nope")):
        cluster.kubectl(
            "create", "secret", "generic", name, "--from-literal=username=ci",
            f"--from-literal=password={secret}", "-n", namespace,
        )  # fmt: skip
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    with git_server(tmp_path / "srv", username="ci", password=password) as base:

        def git_flow(name: str, secret: str) -> dict[str, Any]:
            source = {"url": f"{base}/flows.git", "subPath": "sub",
                      "credentials": {"secretName": secret}}  # fmt: skip
            return {
                "kind": "Flow",
                "metadata": {"name": name},
                "spec": {"image": "local", "entrypoint": "flows.py:versioned",
                         "source": {"git": source}},
            }  # fmt: skip

        apply_baton(cluster, namespace, process_pool("procs"), git_flow("git", "git-creds"),
                    git_flow("wrong", "git-wrong"))  # fmt: skip
        worker = WorkerProcess(cluster, namespace, "procs", tmp_path, work_dir=work_dir)
        try:
            states = {}
            for name, flow_name in (("run-a", "git"), ("bad", "wrong")):
                apply_baton(cluster, namespace, adhoc_run(name, flow_name, "procs"))
                states[name] = wait_for(
                    lambda n=name: ended(cluster, namespace, n), 90, f"{name} to end"
                )
            second = copy.commit({"sub/flows.py": WORKER_FLOW.format(version="B")}, "B")
            apply_baton(cluster, namespace, adhoc_run("run-b", "git", "procs"))
            states["run-b"] = wait_for(lambda: ended(cluster, namespace, "run-b"), 90, "run-b")
        finally:
            worker.stop()
    a, b, bad = states["run-a"], states["run-b"], states["bad"]
    assert a["state"] == "Completed", (a, worker.output()[-3000:])
    assert (a["state"], a["result"]["preview"], a["sourceCommit"]) == ("Completed", "'A'", first)
    assert (b["state"], b["result"]["preview"], b["sourceCommit"]) == ("Completed", "'B'", second)
    assert bad["state"] == "Failed", bad
    assert "git: authentication failed" in bad["message"], bad
    assert not (work_dir / ".baton-runs").exists() or not any((work_dir / ".baton-runs").iterdir())
    assert password not in worker.output()


def ended(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    status = cluster.get_json("flowrun", name, "-n", namespace).get("status") or {}
    return status if status.get("state") in ("Completed", "Failed", "Crashed") else None
