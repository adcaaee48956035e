"""The ``baton`` command (also installed as the kubectl plugin ``kubectl-baton``).

Each subcommand imports what it needs when it runs, so ``baton --help`` stays instant
and the SDK-only commands never load the operator's dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from baton import __version__

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def _operator(args: argparse.Namespace) -> int:
    from baton.controller.app import run  # noqa: PLC0415

    run(namespaces=args.namespace or [], liveness=args.liveness, verbose=args.verbose)
    return 0


def _flow_schema(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from baton.cli.loading import load_flow  # noqa: PLC0415
    from baton.parameters import parameter_schema  # noqa: PLC0415

    flow = load_flow(args.entrypoint)
    print(json.dumps(parameter_schema(getattr(flow, "fn", flow)), indent=2))
    return 0


def _execute(_: argparse.Namespace) -> int:
    from baton.execute import execute  # noqa: PLC0415

    return execute()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton", description="Prefect-style workflow orchestration inside Kubernetes."
    )
    parser.add_argument("--version", action="version", version=f"baton {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    operator = commands.add_parser(
        "operator",
        help="run the operator (kopf)",
        description="Run the Baton operator until interrupted.",
    )
    operator.add_argument(
        "-n",
        "--namespace",
        action="append",
        help="watch only this namespace (repeatable; default: all)",
    )
    operator.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL (default: %(default)s)",
    )
    operator.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    operator.set_defaults(handler=_operator)

    execute = commands.add_parser(
        "execute",
        help="run the FlowRun named by BATON_* variables (inside its pod)",
        description="Run one FlowRun and report its progress into the FlowRun status. The "
        "operator sets BATON_FLOW_RUN_NAME, BATON_FLOW_RUN_NAMESPACE, "
        "BATON_ENTRYPOINT and friends in the pod.",
    )
    execute.set_defaults(handler=_execute)

    flow = commands.add_parser("flow", help="inspect flows")
    flow_commands = flow.add_subparsers(dest="flow_command", required=True, metavar="COMMAND")
    schema = flow_commands.add_parser(
        "schema",
        help="print a flow's parameter JSON Schema",
        description="Print the JSON Schema of a flow's parameters (for Flow.spec.parameterSchema).",
    )
    schema.add_argument("entrypoint", help="path/to/file.py:func or package.module:func")
    schema.set_defaults(handler=_flow_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
