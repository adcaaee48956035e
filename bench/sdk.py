"""SDK benchmarks: Baton against the real Prefect 3.8.8, side by side, on this machine.

Each measurement is a small script written once against Prefect's API and run in a
fresh process by each framework's own Python (Baton's with ``prefect`` replaced by
``baton``, as the conformance suite does). Prefect runs in the virtualenv that
``tests/conformance/prefect_env.py`` builds, with its temporary API server on
127.0.0.1 and analytics off; Baton runs in the project's ``.venv``.

    hello     ``python hello_flow.py``: one flow, one task; wall time and the peak RSS
              of the largest process in the tree (Prefect's server runs in a child)
    inline    overhead per inline task call inside a flow: (N task calls - N calls of
              the bare function) / N
    map       ``task.map(range(N)).result()`` inside a flow
    cached    a flow making N calls of a task cached by its inputs, run twice in one
              process: the first run computes and stores, the second is all hits

Usage::

    .venv/bin/python bench/sdk.py            # full sizes (Prefect takes minutes)
    .venv/bin/python bench/sdk.py --smoke    # tiny sizes, for `make test`
    .venv/bin/python bench/sdk.py --frameworks baton --check   # targets only

Prints a side-by-side table, then the results as JSON (``--json FILE`` saves them).
``--check`` exits 1 when Baton misses a target of docs/DESIGN (one-task flow
<= 0.5 s and <= 60 MiB; <= 0.25 ms per inline task call).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "conformance"))

import prefect_env  # noqa: E402

TARGETS = {"hello_wall_s": 0.5, "hello_peak_rss_mib": 60.0, "inline_overhead_ms": 0.25}

HELLO = """
from prefect import flow, task


@task
def add(x: int, y: int) -> int:
    return x + y


@flow
def hello() -> int:
    return add(1, 2)


if __name__ == "__main__":
    hello()
"""

INLINE = """
import json, sys, time
from prefect import flow, task

N = int(sys.argv[1])


def bare(x):
    return x + 1


work = task(bare)


@flow
def main():
    work(0)  # warm up: first-call costs (logging setup, caches) are not per call
    start = time.perf_counter()
    for i in range(N):
        bare(i)
    bare_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(N):
        work(i)
    task_s = time.perf_counter() - start
    return {"bare_s": bare_s, "task_s": task_s}


result = main()
print(json.dumps({"inline_overhead_ms": (result["task_s"] - result["bare_s"]) / N * 1000,
                  "inline_total_s": result["task_s"]}))
"""

MAP = """
import json, sys, time
from prefect import flow, task

N = int(sys.argv[1])


@task
def inc(x):
    return x + 1


@flow
def main():
    start = time.perf_counter()
    results = inc.map(range(N)).result()
    elapsed = time.perf_counter() - start
    assert results == list(range(1, N + 1))
    return elapsed


elapsed = main()
print(json.dumps({"map_s": elapsed, "map_per_item_ms": elapsed / N * 1000}))
"""

CACHED = """
import json, sys, time
from prefect import flow, task
from prefect.cache_policies import INPUTS

N = int(sys.argv[1])
runs = []


@task(cache_policy=INPUTS)
def square(x):
    runs.append(x)
    return x * x


@flow
def main():
    return sum(square(i) for i in range(N))


start = time.perf_counter()
first = main()
first_s = time.perf_counter() - start
computed_first = len(runs)
start = time.perf_counter()
second = main()
second_s = time.perf_counter() - start
assert first == second
print(json.dumps({"cached_first_run_s": first_s, "cached_second_run_s": second_s,
                  "cached_computed_first": computed_first,
                  "cached_computed_second": len(runs) - computed_first}))
"""


@dataclass(frozen=True)
class Framework:
    name: str
    python: Path
    env: dict[str, str]

    def source(self, text: str) -> str:
        return text if self.name == "prefect" else re.sub(r"\bprefect\b", "baton", text)


def run_script(fw: Framework, workdir: Path, name: str, text: str, *args: str) -> dict[str, Any]:
    """Run one script in a fresh process; return its JSON line, wall time and peak RSS."""
    script = workdir / f"{fw.name}_{name}.py"
    script.write_text(fw.source(text))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(fw.python), str(script), *args],
        cwd=workdir,
        env=fw.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # both frameworks log each task run; not measured
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{fw.name} {name} exited {proc.returncode}: {output[-2000:]}")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    # ru_maxrss (KiB) from wait4: the largest process of the child's tree.
    result.update(wall_s=wall, peak_rss_mib=usage.ru_maxrss / 1024)
    return result


def measure(fw: Framework, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{fw.name}-") as tmp:
        workdir = Path(tmp)
        # Not measured: a first run creates Prefect's database (migrations), which a
        # user pays once, and fills the OS file cache for both frameworks.
        run_script(fw, workdir, "hello", HELLO)
        hellos = [run_script(fw, workdir, "hello", HELLO) for _ in range(repeat)]
        inline = run_script(fw, workdir, "inline", INLINE, str(sizes["inline"]))
        mapped = run_script(fw, workdir, "map", MAP, str(sizes["map"]))
        cached = run_script(fw, workdir, "cached", CACHED, str(sizes["cached"]))
    return {
        "hello_wall_s": statistics.median(h["wall_s"] for h in hellos),
        "hello_peak_rss_mib": max(h["peak_rss_mib"] for h in hellos),
        "inline_overhead_ms": inline["inline_overhead_ms"],
        "inline_process_peak_rss_mib": inline["peak_rss_mib"],
        "map_s": mapped["map_s"],
        "map_per_item_ms": mapped["map_per_item_ms"],
        "cached_first_run_s": cached["cached_first_run_s"],
        "cached_second_run_s": cached["cached_second_run_s"],
        "cached_computed_first": cached["cached_computed_first"],
        "cached_computed_second": cached["cached_computed_second"],
    }


def frameworks(names: list[str], home: Path) -> list[Framework]:
    found = []
    for name in names:
        if name == "baton":
            env = {**os.environ, "BATON_CACHE_DIR": str(home / "baton-cache")}
            found.append(Framework("baton", ROOT / ".venv" / "bin" / "python", env))
        elif name == "prefect":
            python = prefect_env.ensure_prefect_venv()
            env = prefect_env.prefect_environment(home / "prefect-home")
            found.append(Framework("prefect", python, env))
        else:
            raise SystemExit(f"unknown framework {name!r}")
    return found


ROWS = [
    ("hello_wall_s", "one-task flow, wall (s)", "{:.2f}"),
    ("hello_peak_rss_mib", "one-task flow, peak RSS (MiB)", "{:.0f}"),
    ("inline_overhead_ms", "inline task call overhead (ms)", "{:.3f}"),
    ("map_s", ".map over {map} items (s)", "{:.2f}"),
    ("map_per_item_ms", ".map per item (ms)", "{:.3f}"),
    ("cached_first_run_s", "{cached} cached calls, 1st run (s)", "{:.2f}"),
    ("cached_second_run_s", "{cached} cached calls, 2nd run, hits (s)", "{:.2f}"),
    ("cached_computed_second", "bodies run in 2nd run", "{:.0f}"),
]


def table(results: dict[str, dict[str, Any]], sizes: dict[str, int]) -> str:
    names = list(results)
    header = f"{'measure':<42}" + "".join(f"{n:>12}" for n in names)
    both = "baton" in results and "prefect" in results
    if both:
        header += f"{'prefect/baton':>15}"
    lines = [header, "-" * len(header)]
    for key, label, fmt in ROWS:
        line = f"{label.format(**sizes):<42}"
        line += "".join(f"{fmt.format(results[n][key]):>12}" for n in names)
        if both and key != "cached_computed_second" and results["baton"][key] > 0:
            line += f"{results['prefect'][key] / results['baton'][key]:>14.0f}x"
        lines.append(line)
    return "\n".join(lines)


def check_targets(baton: dict[str, Any]) -> list[str]:
    return [
        f"{key} = {baton[key]:.3f} exceeds the target {limit}"
        for key, limit in TARGETS.items()
        if baton[key] > limit
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Baton vs Prefect SDK benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds, not minutes)")
    parser.add_argument("--frameworks", default="baton,prefect")
    parser.add_argument("--repeat", type=int, default=None, help="runs of the hello flow")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 if Baton misses a target")
    args = parser.parse_args(argv)

    sizes = (
        {"inline": 200, "map": 200, "cached": 50}
        if args.smoke
        else {"inline": 10_000, "map": 10_000, "cached": 1_000}
    )
    repeat = args.repeat or (1 if args.smoke else 3)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as home:
        for fw in frameworks(args.frameworks.split(","), Path(home)):
            print(f"measuring {fw.name} ...", file=sys.stderr, flush=True)
            results[fw.name] = measure(fw, sizes, repeat)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sizes": sizes,
        "hello_runs": repeat,
        "targets": TARGETS,
        "results": results,
    }
    print(table(results, sizes))
    print(json.dumps(document, indent=2))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if args.check and "baton" in results:
        missed = check_targets(results["baton"])
        for problem in missed:
            print(f"TARGET MISSED: {problem}", file=sys.stderr)
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
