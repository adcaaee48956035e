"""The `baton` parser and parameter parsing: what users type becomes what commands get."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from baton._kube.client import ApiError, NotFound
from baton._kube.config import ConfigError
from baton.cli import build_parser, main
from baton.cli.common import CliError, describe_error, parse_params, parse_value
from baton.cli.completion import SCRIPTS, candidates, command_table
from baton.resources.flow import directory_files, source_digest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("120", 120),
        ("1.5", 1.5),
        ("true", True),
        ("null", None),
        ('"quoted"', "quoted"),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("2026-01-01", "2026-01-01"),  # not JSON: a string
        ("hello world", "hello world"),
        ("", ""),
    ],
)
def test_values_are_json_when_they_parse_else_strings(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_params_split_on_the_first_equals_sign() -> None:
    assert parse_params(["budget=120", "query=a=b", "day=2026-01-01"]) == {
        "budget": 120,
        "query": "a=b",
        "day": "2026-01-01",
    }
    assert parse_params(None) == {}
    for bad in ("novalue", "=3"):
        with pytest.raises(CliError, match="must look like name=value"):
            parse_params([bad])


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_kube_options_before_or_after_the_command() -> None:
    before = parse("-n", "ns", "--context", "c", "--kubeconfig", "k", "runs")
    after = parse("runs", "-n", "ns", "--context", "c", "--kubeconfig", "k")
    for args in (before, after):
        assert (args.namespace, args.context, args.kubeconfig) == ("ns", "c", "k")
    assert parse("runs").namespace is None
    # A value given before the command survives the command's own (suppressed) default.
    assert parse("-n", "ns", "describe", "r").namespace == "ns"


def test_run_and_deploy_arguments() -> None:
    args = parse("run", "etl", "-p", "a=1", "--param", "b=x", "--watch", "--timeout", "30")
    assert (args.deployment, args.param, args.watch, args.timeout) == (
        "etl",
        ["a=1", "b=x"],
        True,
        30,
    )
    args = parse(
        "deploy",
        "f.py:fn",
        "--name",
        "n",
        "--interval",
        "90s",
        "--pool",
        "p",
        "--dry-run",
        "-o",
        "yaml",
    )
    assert (args.entrypoint, args.interval, args.cron, args.pool, args.output) == (
        "f.py:fn",
        "90s",
        None,
        "p",
        "yaml",
    )
    with pytest.raises(SystemExit):
        parse("deploy", "f.py:fn", "--name", "n", "--cron", "* * * * *", "--interval", "5")
    worker = parse("worker", "start", "-p", "demo", "--limit", "2", "-n", "ns")
    assert (worker.pool, worker.limit, worker.heartbeat_seconds, worker.cancel_grace) == (
        "demo",
        2,
        10.0,
        10.0,
    )
    operator = parse("operator", "-n", "a", "-n", "b")
    assert operator.namespaces == ["a", "b"]


def test_every_command_has_help() -> None:
    table = command_table(build_parser())
    commands = [key.split() for key in table if key]
    assert (
        ["run"] in commands and ["worker", "start"] in commands and ["flow", "schema"] in commands
    )
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            parse(*command, "--help")
        assert exit_info.value.code == 0


def test_usage_errors_exit_2_and_user_errors_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main(["run", "etl", "-p", "oops", "--kubeconfig", "/nonexistent"]) == 1
    assert capsys.readouterr().err == "error: parameter 'oops' must look like name=value\n"


def test_unexpected_errors_are_one_line() -> None:
    assert (
        describe_error(NotFound(404, "NotFound", 'flowruns "x" not found'))
        == 'flowruns "x" not found'
    )
    assert describe_error(ApiError(403, "Forbidden", "no")) == "no"
    assert describe_error(ConfigError("no cluster credentials")) == "no cluster credentials"
    assert describe_error(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert describe_error(FileNotFoundError(2, "No such file", "/x")) == "No such file: /x"
    assert describe_error(httpx.ConnectError("refused")).startswith(
        "cannot reach the Kubernetes API server: refused"
    )


def test_help_is_fast_and_loads_no_cluster_client() -> None:
    code = (
        "import sys\n"
        "from baton.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('httpx', 'kopf', 'kubernetes', 'yaml', 'pydantic')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_completion_scripts_are_thin_and_valid() -> None:
    for shell, script in ((s, f()) for s, f in SCRIPTS.items()):
        assert "__complete" in script, shell
    bash = SCRIPTS["bash"]()
    assert "complete -o default -F _baton_complete baton kubectl-baton" in bash
    checked = subprocess.run(
        ["bash", "-n"], input=bash, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert SCRIPTS["zsh"]().startswith("# zsh completion")


def test_completion_candidates_follow_the_parser() -> None:
    parser = build_parser()

    def names(_: object) -> list[str]:
        return ["etl-1", "etl-2", "other-1"]

    def complete(*words: str) -> list[str]:
        return candidates(parser, words, names)

    assert complete("worker", "st") == ["start"]
    assert complete("run", "etl", "--wa") == ["--watch"]
    assert complete("runs", "-o", "") == ["table", "wide", "name", "json", "yaml"]
    assert complete("runs", "-o", "j") == ["json"]
    assert complete("completion", "") == ["bash", "zsh", "fish"]
    assert complete("describe", "etl") == ["etl-1", "etl-2"]
    assert complete("-n", "team", "describe", "") == ["etl-1", "etl-2", "other-1"]
    assert complete("runs", "") == []  # runs takes no run names
    assert "__complete" not in complete("")
    assert {"run", "runs", "describe", "completion"} <= set(complete(""))
    assert complete("fl") == ["flow", "flow-run"] and complete("flow", "") == ["digest", "schema"]
    assert complete("deployment", "schedule", "") == ["create", "delete", "ls", "pause", "resume"]
    assert complete("flow-run", "inspect", "etl-") == ["etl-1", "etl-2"]


def test_flow_digest_is_the_digest_the_runtime_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mounted = tmp_path / "mounted"  # as the kubelet lays a ConfigMap volume out
    mounted.mkdir()
    (mounted / "etl.py").write_text("print('etl')\n")
    (mounted / "util.py").write_text("X = 1\n")
    (mounted / "..data").mkdir()
    assert main(["flow", "digest", str(mounted / "etl.py"), str(mounted / "util.py")]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == source_digest(directory_files(mounted))
    (tmp_path / "etl.py").write_text("print('changed')\n")
    assert main(["flow", "digest", str(tmp_path / "etl.py"), str(mounted / "util.py")]) == 0
    assert capsys.readouterr().out.strip() != printed
