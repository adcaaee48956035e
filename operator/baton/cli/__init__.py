"""The ``baton`` command (also installed as the kubectl plugin ``kubectl-baton``).

This module only builds the parser. Each subcommand's handler lives in its own module
(``runs``, ``describe``, ``logs``, ``deploy``, ``worker``, ``completion``) and is imported
when the command runs, so ``baton --help`` stays instant and the SDK-only commands never
load the operator's dependencies. Every failure ends as one ``error: ...`` line on stderr
with exit code 1 (``BATON_DEBUG=1`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

from baton import __version__
from baton.cli.common import CliError, debug, describe_error
from baton.cli.render import LIST_OUTPUTS

Handler = Callable[[argparse.Namespace], int]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Top-level modules of the "operator" extra (pyproject.toml): absent from a plain install.
OPERATOR_EXTRA = frozenset({"kopf", "prometheus_client"})
# ... and of the "ui" extra.
UI_EXTRA = frozenset({"jinja2", "markdown_it", "markupsafe", "multipart", "starlette", "uvicorn"})

__all__ = ["CliError", "build_parser", "main"]


def _lazy(module: str, function: str) -> Handler:
    """A handler that imports ``baton.cli.<module>`` only when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        result: int = getattr(importlib.import_module(f"baton.cli.{module}"), function)(args)
        return result

    return handler


def _automations(args: argparse.Namespace) -> int:
    try:
        from baton.automations.app import run  # noqa: PLC0415
    except ModuleNotFoundError as error:
        if error.name not in OPERATOR_EXTRA | {"jinja2", "markupsafe"}:
            raise
        raise CliError(
            f"automations need {error.name!r}, which plain `pip install baton` leaves out: "
            'pip install "baton[operator]"'
        ) from error
    run(namespaces=args.namespaces or [], verbose=args.verbose)
    return 0


def _operator(args: argparse.Namespace) -> int:
    try:
        from baton.controller.app import run  # noqa: PLC0415
    except ModuleNotFoundError as error:
        if error.name not in OPERATOR_EXTRA:
            raise
        raise CliError(
            f"the operator needs {error.name!r}, which plain `pip install baton` leaves out: "
            'pip install "baton[operator]"'
        ) from error

    namespaces = args.namespaces or []
    election = None
    if args.leader_elect:
        from baton._kube import config  # noqa: PLC0415
        from baton.controller.leader import LeaseConfig, lease_name  # noqa: PLC0415

        election = LeaseConfig.from_env(
            args.lease_name or lease_name(namespaces),
            args.lease_namespace or os.environ.get("POD_NAMESPACE") or config.load().namespace,
        )
    run(
        namespaces=namespaces,
        liveness=args.liveness,
        readiness_endpoint=args.readiness,
        upgrade_crds=args.upgrade_crds,
        verbose=args.verbose,
        log_format=args.log_format,
        metrics_port=args.metrics_port,
        election=election,
    )
    return 0


def _ui(args: argparse.Namespace) -> int:
    try:
        from baton.ui.app import serve  # noqa: PLC0415
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in UI_EXTRA:
            raise
        raise CliError(
            f"the UI needs {error.name!r}, which plain `pip install baton` leaves out: "
            'pip install "baton[ui]"'
        ) from error
    from baton._kube.config import load  # noqa: PLC0415
    from baton.ui.identity import Authenticator, BearerTokens, ProxyHeaders  # noqa: PLC0415

    credentials = load(args.kubeconfig, args.context)
    authenticator: Authenticator | None = None
    if args.auth == "proxy":
        authenticator = ProxyHeaders(
            credentials, user_header=args.user_header, groups_header=args.groups_header
        )
    elif args.auth == "token":
        authenticator = BearerTokens(credentials)
    serve(
        credentials,
        host=args.host,
        port=args.port,
        namespace=args.namespace,
        user=args.context or "",
        authenticator=authenticator,
    )
    return 0


def _flow_schema(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from baton.cli.loading import load_flow  # noqa: PLC0415
    from baton.parameters import parameter_schema  # noqa: PLC0415

    flow = load_flow(args.entrypoint)
    print(json.dumps(parameter_schema(getattr(flow, "fn", flow)), indent=2))
    return 0


def _flow_digest(args: argparse.Namespace) -> int:
    from baton.resources.flow import source_digest  # noqa: PLC0415

    files: dict[str, bytes] = {}
    for name in args.files:
        path = Path(name)
        if path.name in files:
            raise CliError(f"two files are named {path.name!r}: a ConfigMap key must be unique")
        files[path.name] = path.read_bytes()
    print(source_digest(files))
    return 0


def _execute(_: argparse.Namespace) -> int:
    from baton.execute import execute  # noqa: PLC0415

    return execute()


def _git_fetch(_: argparse.Namespace) -> int:
    from baton.git_source import main as git_fetch  # noqa: PLC0415

    return git_fetch()


def _kube_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--kubeconfig/--context/-n, accepted before or after the command name."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--kubeconfig", default=default, help="kubeconfig file ($KUBECONFIG)")
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument(
        "-n",
        "--namespace",
        default=default,
        help="namespace (default: the kubeconfig context's)",
    )


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    summary: str,
    description: str | None = None,
    *,
    kube: bool = True,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=description or summary)
    if kube:
        _kube_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def _schedule_options(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cron", help='cron expression, e.g. "0 9 * * 1-5"')
    when.add_argument("--interval", help='every N seconds, or a duration like "90s", "1h30m"')
    when.add_argument("--rrule", help="RFC 5545 recurrence rule")
    parser.add_argument("--timezone", help="IANA time zone of the schedule (default UTC)")


def _define_run(commands: Commands, name: str = "run") -> argparse.ArgumentParser:
    run = _command(
        commands,
        name,
        _lazy("runs", "run_command"),
        "start an ad-hoc run of a deployment",
        "Create a FlowRun of DEPLOYMENT now, named <deployment>-custom-<random>. Parameter "
        "values are JSON when they parse as JSON (3, true, [1,2]), else strings.",
    )
    run.add_argument("deployment", help="the Deployment's name (Prefect's FLOW/NAME works too)")
    run.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="a parameter (repeatable)"
    )
    run.add_argument(
        "-w", "--watch", action="store_true", help="follow it; exit 0 only if it Completes"
    )
    run.add_argument("--timeout", type=float, help="with --watch: give up after SECONDS")
    return run


def _define_runs(commands: Commands, name: str = "runs") -> argparse.ArgumentParser:
    runs = _command(commands, name, _lazy("runs", "runs_command"), "list flow runs")
    runs.add_argument("-d", "--deployment", help="only runs of this deployment")
    runs.add_argument("--state", help="only runs in this state (e.g. Failed)")
    runs.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list runs in every namespace"
    )
    runs.add_argument(
        "-l", "--selector", help="label selector, as kubectl's (e.g. baton.dev/flow=etl)"
    )
    runs.add_argument(
        "-w", "--watch", action="store_true", help="after listing, print runs as they change"
    )
    _output_option(runs)
    return runs


def _output_option(parser: argparse.ArgumentParser) -> None:
    """``-o`` of every listing, printed by ``render.listing``."""
    parser.add_argument(
        "-o",
        "--output",
        choices=LIST_OUTPUTS,
        default="table",
        help="json/yaml print the API objects as a List, as kubectl does (default: table)",
    )


def _define_describe(commands: Commands, name: str = "describe") -> argparse.ArgumentParser:
    describe = _command(
        commands,
        name,
        _lazy("describe", "command"),
        "show a flow run: state, history, task runs, artifacts, error",
    )
    describe.add_argument("flowrun", help="the FlowRun's name")
    describe.add_argument(
        "-o", "--output", choices=["text", "json", "yaml"], default="text",
        help="json/yaml print the FlowRun object itself (default: text)",
    )  # fmt: skip
    return describe


def _define_logs(commands: Commands, name: str = "logs") -> argparse.ArgumentParser:
    logs = _command(
        commands,
        name,
        _lazy("logs", "command"),
        "print a flow run's output",
        "Print a run's output: from its pod while it lives (kubernetes pools), from the "
        "process worker's log file on this machine (process pools), else the log kept with "
        "the FlowRun (docs/logs.md). The first line on stderr says which.",
    )
    logs.add_argument("flowrun", help="the FlowRun's name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    logs.add_argument("--task", metavar="NAME", help="only the lines of this task (run) name")
    logs.add_argument(
        "--s3", action="store_true",
        help="read the full log from the bucket in BATON_LOGS_S3_* (credentials: AWS_*)",
    )  # fmt: skip
    logs.add_argument("--log-dir", help="process workers' log directory (default ~/.baton/logs)")
    return logs


def _define_cancel(commands: Commands, name: str = "cancel") -> argparse.ArgumentParser:
    cancel = _command(commands, name, _lazy("runs", "cancel_command"), "cancel a flow run")
    cancel.add_argument("flowrun", help="the FlowRun's name")
    cancel.add_argument("--wait", action="store_true", help="wait until it is Cancelled")
    cancel.add_argument("--timeout", type=float, help="with --wait: give up after SECONDS")
    return cancel


_DEPLOYMENT_TOGGLES = (
    ("pause", "pause_command", "stop a deployment's scheduled runs (spec.paused=true)"),
    ("resume", "resume_command", "resume a paused deployment's schedules"),
)


def _add_run_commands(commands: Commands) -> None:
    for define in (_define_run, _define_runs, _define_describe, _define_logs, _define_cancel):
        define(commands)
    for name, function, summary in _DEPLOYMENT_TOGGLES:
        parser = _command(commands, name, _lazy("runs", function), summary)
        if name == "resume":
            parser.add_argument("deployment", help="the Deployment's name, or a paused FlowRun's")
            _resume_input_option(parser)
        else:
            parser.add_argument("deployment", help="the Deployment's name")


def _resume_input_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        action="append",
        metavar="NAME=VALUE",
        help="a paused FlowRun's input (repeatable), checked against its input schema",
    )


def _add_prefect_commands(commands: Commands) -> None:
    """The command lines of Prefect's tutorials, with ``prefect`` replaced by ``baton``.

    Aliases of Baton's own commands where one exists (``flow-run ls`` is ``runs``), a few
    more (``deployment ls|inspect|delete``, ``deployment schedule ...``, ``work-pool ...``)
    in ``prefect_words``. docs/cli.md lists the mapping.
    """
    words = "prefect_words"

    def group(name: str, summary: str) -> Commands:
        parser = commands.add_parser(name, help=summary, description=summary)
        sub: Commands = parser.add_subparsers(
            dest=f"{name}_command", required=True, metavar="COMMAND"
        )
        return sub

    deployment = group("deployment", "deployments, as Prefect's CLI names them")
    _output_option(_command(deployment, "ls", _lazy(words, "deployment_ls"), "list deployments"))
    for name, function, summary in (
        ("inspect", "deployment_inspect", "print a deployment (YAML)"),
        ("delete", "deployment_delete", "delete a deployment (its runs go with it)"),
    ):
        _command(deployment, name, _lazy(words, function), summary).add_argument("name")
    _define_run(deployment)
    for name, function, summary in _DEPLOYMENT_TOGGLES:
        toggle = _command(deployment, name, _lazy("runs", function), summary)
        toggle.add_argument("deployment", help="the Deployment's name")
    schedule_group = deployment.add_parser("schedule", help="a deployment's schedules")
    schedule: Commands = schedule_group.add_subparsers(
        dest="schedule_command", required=True, metavar="COMMAND"
    )
    create = _command(schedule, "create", _lazy(words, "schedule_create"), "add a schedule")
    create.add_argument("name", help="the Deployment's name")
    _schedule_options(create)
    listed = _command(schedule, "ls", _lazy(words, "schedule_ls"), "list a deployment's schedules")
    listed.add_argument("name", help="the Deployment's name")
    for name, function, summary in (
        ("pause", "schedule_pause", "deactivate schedule N (1-based, as `schedule ls` shows)"),
        ("resume", "schedule_resume", "activate schedule N again"),
        ("delete", "schedule_delete", "remove schedule N"),
    ):
        parser = _command(schedule, name, _lazy(words, function), summary)
        parser.add_argument("name", help="the Deployment's name")
        parser.add_argument("index", type=int, help="the schedule's number in `schedule ls`")

    flow_run = group("flow-run", "flow runs, as Prefect's CLI names them")
    _define_runs(flow_run, "ls")
    _define_describe(flow_run, "inspect")
    _define_logs(flow_run)
    _define_cancel(flow_run)
    resume = _command(
        flow_run, "resume", _lazy("runs", "flow_run_resume_command"), "resume a paused flow run"
    )
    resume.add_argument("flowrun", help="the FlowRun's name")
    _resume_input_option(resume)

    pool = group("work-pool", "work pools, as Prefect's CLI names them")
    created = _command(pool, "create", _lazy(words, "pool_create"), "create a work pool")
    created.add_argument("name")
    created.add_argument("--type", choices=["process", "kubernetes"], default="kubernetes")
    created.add_argument("--concurrency-limit", type=int, help="most runs at once")
    _output_option(_command(pool, "ls", _lazy(words, "pool_ls"), "list work pools"))
    for name, function, summary in (
        ("inspect", "pool_inspect", "print a work pool (YAML)"),
        ("pause", "pool_pause", "hold the pool's new runs (spec.paused=true)"),
        ("resume", "pool_resume", "let a paused pool run again"),
    ):
        _command(pool, name, _lazy(words, function), summary).add_argument("name")


def _add_deploy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = _command(
        commands,
        "deploy",
        _lazy("deploy", "command"),
        "create or update a flow's Flow and Deployment",
        "Build the Flow (with its parameter schema) and Deployment of a @flow, and apply them "
        "(server-side apply) — or print them with --dry-run for git.",
    )
    deploy.add_argument("entrypoint", help="path/to/file.py:func, as the runtime will load it")
    deploy.add_argument("--name", required=True, help="the Deployment's name")
    _schedule_options(deploy)
    deploy.add_argument("--pool", default="default", help="work pool (default: %(default)s)")
    deploy.add_argument(
        "--pool-type",
        choices=["process", "kubernetes"],
        help="also create/update the work pool with this type",
    )
    deploy.add_argument("--image", help="container image with Baton and the flow code")
    deploy.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="default parameter"
    )
    deploy.add_argument("--description", help="the Flow's description")
    deploy.add_argument(
        "--block", action="append", dest="blocks", metavar="TYPE/NAME",
        help="a block its runs may load (repeatable; Flow spec.blocks)",
    )  # fmt: skip
    deploy.add_argument("--git-url", help="clone the flow's code from this repository per run")
    deploy.add_argument("--git-ref", help="with --git-url: branch or tag (default: HEAD)")
    deploy.add_argument("--git-commit", help="with --git-url: a full commit instead of a ref")
    deploy.add_argument("--git-sub-path", help="with --git-url: the entrypoint's directory")
    deploy.add_argument(
        "--git-credentials", metavar="SECRET",
        help="with --git-url: Secret with username and password keys",
    )  # fmt: skip
    deploy.add_argument("--dry-run", action="store_true", help="print the manifests, apply nothing")
    deploy.add_argument("-o", "--output", choices=["yaml", "json"], help="with --dry-run")

    worker = commands.add_parser("worker", help="run a process worker")
    worker_commands = worker.add_subparsers(dest="worker_command", required=True, metavar="COMMAND")
    start = _command(
        worker_commands,
        "start",
        _lazy("worker", "start_command"),
        "serve a process work pool from this machine",
        "Claim the runs of a process WorkPool and execute them as local processes until "
        "interrupted. Entrypoint paths are relative to --work-dir.",
    )
    start.add_argument("-p", "--pool", required=True, help="the process WorkPool to serve")
    start.add_argument("--limit", type=int, help="most runs at once (default: no limit)")
    start.add_argument("--work-dir", help="where runs execute (default: the current directory)")
    start.add_argument("--log-dir", help="per-run log files (default ~/.baton/logs)")
    start.add_argument("--heartbeat-seconds", type=float, default=10.0, help="default: 10")
    start.add_argument(
        "--cancel-grace", type=float, default=10.0, help="SIGTERM to SIGKILL (default: 10)"
    )
    start.add_argument("--name", help="worker name (default: <host>-<pid>)")


def _add_block_commands(commands: Commands) -> None:
    block = commands.add_parser("block", help="blocks: named configuration with secrets")
    sub: Commands = block.add_subparsers(dest="block_command", required=True, metavar="COMMAND")
    listed = _command(sub, "ls", _lazy("blocks", "ls_command"), "list saved blocks")
    listed.add_argument("--type", help="only blocks of this type slug")
    created = _command(
        sub,
        "create",
        _lazy("blocks", "create_command"),
        "save a block: baton block create secret/db-password --field value=s3cr3t",
        "Save block TYPE/NAME with its fields. Field values are JSON when they parse "
        "(--field port=5432), else strings; --field-file NAME=PATH reads a value from a "
        "file, so a secret need not appear on the command line. A custom type's class "
        "must be importable: --import my_package.blocks.",
    )
    created.add_argument("reference", help="TYPE/NAME, e.g. secret/db-password")
    created.add_argument("--field", action="append", metavar="NAME=VALUE", help="repeatable")
    created.add_argument("--field-file", action="append", metavar="NAME=PATH", help="repeatable")
    created.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    created.add_argument("--overwrite", action="store_true", help="replace a saved block")
    for name, function, summary in (
        ("inspect", "inspect_command", "show a block (secret fields masked)"),
        ("delete", "delete_command", "delete a block"),
    ):
        parser = _command(sub, name, _lazy("blocks", function), summary)
        parser.add_argument("reference", help="TYPE/NAME, e.g. secret/db-password")
    types = _command(
        sub, "type", _lazy("blocks", "types_command"), "list the block types known here",
        kube=False,
    )  # fmt: skip
    types.add_argument("--import", dest="imports", action="append", metavar="MODULE")


def _add_variable_commands(commands: Commands) -> None:
    variable = commands.add_parser("variable", help="variables: named JSON values")
    sub: Commands = variable.add_subparsers(
        dest="variable_command", required=True, metavar="COMMAND"
    )
    _command(sub, "ls", _lazy("variables", "ls_command"), "list variables")
    got = _command(sub, "get", _lazy("variables", "get_command"), "print a variable's value")
    got.add_argument("name")
    setter = _command(
        sub,
        "set",
        _lazy("variables", "set_command"),
        "set a variable (JSON when the value parses as JSON, else a string)",
    )
    setter.add_argument("name")
    setter.add_argument("value")
    setter.add_argument("--tag", action="append", dest="tags", help="repeatable")
    setter.add_argument("--overwrite", action="store_true", help="replace an existing value")
    unset = _command(sub, "unset", _lazy("variables", "unset_command"), "delete a variable")
    unset.add_argument("name")


def program_name(argv0: str) -> str:
    """``kubectl baton`` when run as the kubectl plugin (``kubectl-baton``), else ``baton``."""
    return "kubectl baton" if Path(argv0).name.startswith("kubectl-") else "baton"


def build_parser(prog: str = "baton") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Prefect-style workflow orchestration inside Kubernetes."
    )
    parser.add_argument("--version", action="version", version=f"baton {__version__}")
    _kube_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_commands(commands)
    _add_deploy_commands(commands)
    _add_prefect_commands(commands)

    flow = commands.add_parser("flow", help="inspect flows")
    flow_commands = flow.add_subparsers(dest="flow_command", required=True, metavar="COMMAND")
    schema = _command(
        flow_commands,
        "schema",
        _flow_schema,
        "print a flow's parameter JSON Schema",
        "Print the JSON Schema of a flow's parameters (for Flow.spec.parameterSchema).",
        kube=False,
    )
    schema.add_argument("entrypoint", help="path/to/file.py:func or package.module:func")
    digest = _command(
        flow_commands,
        "digest",
        _flow_digest,
        "print the sha256 a Flow's source.configMap pins",
        "Print the digest of the files a code ConfigMap will hold (each keyed by its file "
        "name, as `kubectl create configmap NAME --from-file=FILE` keys them), for "
        "Flow.spec.source.configMap.sha256.",
        kube=False,
    )
    digest.add_argument("files", nargs="+", metavar="FILE", help="the ConfigMap's files")

    completion = _command(
        commands,
        "completion",
        _lazy("completion", "command"),
        "print a shell completion script",
        "Print a completion script: source <(baton completion bash); for fish, "
        "baton completion fish > ~/.config/fish/completions/baton.fish",
        kube=False,
    )
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])

    operator = _command(
        commands,
        "operator",
        _operator,
        "run the operator (kopf)",
        "Run the Baton operator until interrupted.",
        kube=False,
    )
    operator.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        help="watch only this namespace (repeatable; default: all)",
    )
    operator.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL (default: %(default)s)",
    )
    operator.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="act only while holding a coordination.k8s.io Lease, so further replicas are "
        "hot standbys (default: on)",
    )
    operator.add_argument(
        "--lease-name",
        help="the Lease's name (default: baton-operator, or baton-operator-<hash> of the "
        "watched namespaces)",
    )
    operator.add_argument(
        "--lease-namespace",
        help="the Lease's namespace (default: $POD_NAMESPACE, else the kubeconfig's)",
    )
    operator.add_argument(
        "--readiness",
        default=None,
        metavar="URL",
        help="serve readiness at this URL, e.g. http://0.0.0.0:8081/readyz: 200 once signed "
        "in, started and watching, else 503 with what is missing (default: not served)",
    )
    operator.add_argument(
        "--upgrade-crds",
        action="store_true",
        help="at start, apply this version's CRDs over older ones (never creates or "
        "downgrades one; needs get/patch on the four baton.dev CRDs)",
    )
    operator.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    operator.add_argument(
        "--log-format",
        choices=["json", "plain", "full"],
        default="json",
        help="log line format (default: %(default)s, one JSON object per line)",
    )
    operator.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics on this port (default: 0, off)",
    )

    automations = _command(
        commands,
        "automations",
        _automations,
        "run the automations component (notifications and actions)",
        "Watch Automations (and Deployments' spec.notifications) and carry out their "
        "actions until interrupted. Runs apart from the operator, with an identity of its "
        "own that may read the Secrets notifications name (docs/automations.md).",
        kube=False,
    )
    automations.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        help="watch only this namespace (repeatable; default: all)",
    )
    automations.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    ui = _command(
        commands,
        "ui",
        _ui,
        "serve the web UI on this machine, as you (your kubeconfig)",
        "Serve the Baton UI until interrupted. Every page and action is a Kubernetes API "
        "call made with your kubeconfig's credentials: RBAC decides what you see and do.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    ui.add_argument("--port", type=int, default=4200, help="port (default: %(default)s)")
    ui.add_argument(
        "--auth",
        choices=["kubeconfig", "proxy", "token"],
        default="kubeconfig",
        help="whose identity API calls use: the kubeconfig's user (default); the user an "
        "authenticating proxy names, impersonated; or a bearer token each user signs in with "
        "(docs/ui.md)",
    )
    ui.add_argument(
        "--user-header",
        default="X-Forwarded-User",
        help="with --auth proxy: the header naming the user (default: %(default)s)",
    )
    ui.add_argument(
        "--groups-header",
        default="X-Forwarded-Groups",
        help="with --auth proxy: the header listing groups, comma-separated (default: %(default)s)",
    )

    _command(
        commands,
        "execute",
        _execute,
        "run the FlowRun named by BATON_* variables (inside its pod)",
        "Run one FlowRun and report its progress into the FlowRun status. The "
        "operator sets BATON_FLOW_RUN_NAME, BATON_FLOW_RUN_NAMESPACE, "
        "BATON_ENTRYPOINT and friends in the pod.",
        kube=False,
    )
    _command(
        commands,
        "git-fetch",
        _git_fetch,
        "clone a Flow's source.git for its run (the Job's init container)",
        "Clone BATON_GIT_URL at BATON_GIT_REF or BATON_GIT_COMMIT into BATON_GIT_TARGET; "
        "on failure, end the run (BATON_FLOW_RUN_*) Failed with git's error.",
        kube=False,
    )
    _add_block_commands(commands)
    _add_variable_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:  # the shells' completion scripts ask here (completion.py)
        from baton.cli.completion import print_candidates  # noqa: PLC0415

        return print_candidates(words[1:])
    args = build_parser(program_name(sys.argv[0])).parse_args(words)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:
        if debug():
            raise
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
