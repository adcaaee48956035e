"""Run conformance cases under one framework and write one JSON observation per case.

Usage (the test module does this, once per framework)::

    <python> runner.py --framework prefect|baton --out FILE --work DIR CASEFILE...

Each case file is copied into ``DIR``, for Baton with every ``prefect`` replaced by
``baton`` (the "change only the imports" promise, applied textually), then imported,
and each ``case_*`` function in it is called in order. Every case gets its own
result/cache storage directory, fresh counters and a fresh log capture. A case that
raises is an observation too (``{"case_error": ...}``): the two frameworks must fail
alike. One process runs many cases because Prefect takes seconds to start.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casekit  # noqa: E402

CASE_TIMEOUT = 60.0  # seconds; a hung case dumps every thread's stack and ends the batch


def translate(source: str, framework: str) -> str:
    """The case's source as the framework runs it: for Baton, ``prefect`` -> ``baton``."""
    return source if framework == "prefect" else re.sub(r"\bprefect\b", "baton", source)


@contextlib.contextmanager
def isolated_storage(framework: str, directory: Path) -> Iterator[None]:
    """Point the framework's result/cache storage at ``directory`` for one case."""
    directory.mkdir(parents=True, exist_ok=True)
    if framework == "baton":
        os.environ["BATON_CACHE_DIR"] = str(directory)
        yield
        return
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: directory}):
        yield


def capture_run_logs(framework: str) -> None:
    for name in (f"{framework}.flow_runs", f"{framework}.task_runs"):
        logger = logging.getLogger(name)
        if casekit.CAPTURE_HANDLER not in logger.handlers:
            logger.addHandler(casekit.CAPTURE_HANDLER)


def run_case(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        observation = fn()
    except Exception as exc:
        return {"case_error": casekit.describe_error(exc), "traceback": traceback.format_exc()}
    return {"observation": casekit.jsonable(observation)}


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
            module = importlib.import_module(module_name)
            capture_run_logs(framework)
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
