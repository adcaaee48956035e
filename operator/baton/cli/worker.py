"""``baton worker start -p <pool>``: serve a process WorkPool from this machine."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from baton.cli.common import CliError


def start_command(args: argparse.Namespace) -> int:
    from baton._kube.config import load  # noqa: PLC0415
    from baton.worker import Worker, WorkerOptions, default_log_dir  # noqa: PLC0415

    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.heartbeat_seconds <= 0:
        raise CliError("--heartbeat-seconds must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    credentials = load(args.kubeconfig, args.context)
    options = WorkerOptions(
        pool=args.pool,
        namespace=args.namespace or credentials.namespace,
        limit=args.limit,
        work_dir=Path(args.work_dir).resolve() if args.work_dir else Path.cwd(),
        log_dir=Path(args.log_dir).resolve() if args.log_dir else default_log_dir(),
        heartbeat_seconds=args.heartbeat_seconds,
        cancel_grace=args.cancel_grace,
        kubeconfig=args.kubeconfig,
        context=args.context,
    )
    if args.name:
        options.name = args.name
    Worker(options, credentials).run()
    return 0
