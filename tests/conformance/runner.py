"""Run conformance cases under one framework and write one JSON observation per case.

Usage (the test module does this, once per framework)::

    <python> runner.py --framework prefect|baton --out FILE --work DIR CASEFILE...

Each case file is copied into ``DIR``, for Baton with every ``prefect`` replaced by
``baton`` (the "change only the imports" promise, applied textually), then imported,
and each ``case_*`` function in it is called in order. Every case gets its own
result/cache storage directory, fresh counters and a fresh log capture. A case that
raises is an observation too (``{"case_error": ...}``): the two frameworks must fail
alike; so is a case file that cannot be imported (a missing import path), for each of
its cases. One process runs many cases because Prefect takes seconds to start.
"""

# ruff: noqa: PLC0415 - each framework is imported only by the run that tests it

from __future__ import annotations

import argparse
import ast
import contextlib
import faulthandler
import importlib
import json
import logging
import os
import re
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casekit  # noqa: E402

CASE_TIMEOUT = 150.0  # seconds; a hung case dumps every thread's stack and ends the batch


def translate(source: str, framework: str) -> str:
    """The case's source as the framework runs it: for Baton, ``prefect`` -> ``baton``."""
    return source if framework == "prefect" else re.sub(r"\bprefect\b", "baton", source)


@contextlib.contextmanager
def isolated_storage(framework: str, directory: Path) -> Iterator[None]:
    """Point the framework's result/cache storage at ``directory`` for one case."""
    directory.mkdir(parents=True, exist_ok=True)
    if framework == "baton":
        os.environ["BATON_CACHE_DIR"] = str(directory)
        # Keyed artifacts live as long as Prefect's server does: one per batch.
        os.environ.setdefault("BATON_ARTIFACT_DIR", str(directory.parent / "artifacts"))
        # Blocks and variables in the case's own local store, never a cluster's.
        os.environ["BATON_STORE"] = "local"
        os.environ["BATON_HOME"] = str(directory / "home")
        yield
        return
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )

    # No heartbeat thread: it tells a server that a run is alive (nothing a local user
    # sees) and costs up to a second at the end of every flow run while it winds down.
    updates = {PREFECT_LOCAL_STORAGE_PATH: directory, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with temporary_settings(updates=updates):
        yield


def _load_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_run_artifacts(framework: str) -> list[dict[str, Any]]:
    """The current flow run's artifacts as the framework stores them.

    Prefect: read back from its API server (what its UI shows); Baton: the run
    context's list (what the in-cluster runtime reports to the FlowRun status).
    """
    if framework == "baton":
        from baton.context import FlowRunContext as BatonFlowRunContext

        ctx = BatonFlowRunContext.get()
        stored = [dict(artifact) for artifact in ctx.artifacts] if ctx else []
    else:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.context import FlowRunContext

        ctx = FlowRunContext.get()
        assert ctx is not None and ctx.flow_run is not None
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[ctx.flow_run.id]))
            )
        stored = [a.model_dump() for a in found]
    return sorted(
        (
            {
                "type": a["type"],
                "key": a["key"],
                "description": a["description"],
                "data": _load_json(a["data"]),
                "from_task": a.get("task_run_id") is not None,
            }
            for a in stored
        ),
        key=lambda a: (a["type"], a["key"] or "", json.dumps(a["data"], sort_keys=True)),
    )


def capture_run_logs(framework: str) -> None:
    # The framework's root logger sees its run loggers and its engine logger.
    logger = logging.getLogger(framework)
    if casekit.CAPTURE_HANDLER not in logger.handlers:
        logger.addHandler(casekit.CAPTURE_HANDLER)


def run_case(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        observation = fn()
    except Exception as exc:
        return {"case_error": casekit.describe_error(exc), "traceback": traceback.format_exc()}
    return {"observation": casekit.jsonable(observation)}


def _failed_import(name: str, path: Path, exc: Exception) -> types.ModuleType:
    """A stand-in module whose cases all raise the import error."""
    module = types.ModuleType(name)

    def raise_import_error() -> dict[str, Any]:
        raise exc

    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("case_"):
            setattr(module, node.name, raise_import_error)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("prefect", "baton"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--only", default="", help="run only cases whose id contains this")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)

    framework: str = args.framework
    modules_dir = args.work / "modules"
    modules_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(modules_dir))
    with open(args.out, "w") as out:
        for path in args.files:
            module_name = f"conformance_{path.stem}"
            target = modules_dir / f"{module_name}.py"
            target.write_text(translate(path.read_text(), framework))
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                # A missing import path is an observation too, of every case in the file.
                module = _failed_import(module_name, target, exc)
            capture_run_logs(framework)
            casekit.artifact_reader = lambda: read_run_artifacts(framework)
            differences = getattr(module, "DIFFERENCES", {})
            cases = [
                (name, fn)
                for name, fn in vars(module).items()
                if name.startswith("case_") and callable(fn)
            ]
            for name, fn in cases:
                case_id = f"{path.stem}::{name}"
                if args.only and args.only not in case_id:
                    continue
                casekit.reset()
                faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
                started = time.monotonic()
                with isolated_storage(framework, args.work / "storage" / case_id):
                    result = run_case(fn)
                faulthandler.cancel_dump_traceback_later()
                result.update(
                    case=case_id,
                    seconds=round(time.monotonic() - started, 3),
                    differences=differences.get(name, {}),
                )
                out.write(json.dumps(result, sort_keys=True, default=repr) + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
