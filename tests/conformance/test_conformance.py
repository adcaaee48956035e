"""Differential conformance: the same flows under the real Prefect 3.8.8 and under Baton.

Each case in ``cases/*.py`` is written once against Prefect's API. The session fixture
runs every case twice, in subprocesses: with the Python of Prefect's own virtualenv
(``prefect_env.py``) and with Baton's Python on the same source with ``prefect``
replaced by ``baton``. Each case returns an *observation* (results, exceptions,
final states, how often bodies ran, log lines, artifacts) and each test below
compares the two. Where Baton differs on purpose, the case file declares both
values under ``DIFFERENCES`` (explained in docs/compatibility.md) and the test checks
each side against its declared value instead.

If Prefect's virtualenv cannot be created, every test here errors: a missing
reference is a failure, never a skip.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import prefect_env  # noqa: E402

# The first test builds Prefect's virtualenv (once per machine) and runs every case.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CASE_FILES = sorted((HERE / "cases").glob("*.py"))
RUNNER = HERE / "runner.py"
# Prefect spends most of a flow run waiting on its API server, so its cases run in
# parallel shards (a process each, with its own temporary server); Baton needs one.
PREFECT_SHARDS = 2  # more only adds contention on a 2-core machine
BATCH_TIMEOUT = 600  # seconds, for the slowest shard


def case_ids(path: Path) -> list[str]:
    """The ``file::case_name`` ids of a case file, read without importing it."""
    tree = ast.parse(path.read_text())
    return [
        f"{path.stem}::{node.name}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("case_")
    ]


ALL_CASES = [case for path in CASE_FILES for case in case_ids(path)]


def _shards(files: list[Path], count: int) -> list[list[Path]]:
    # Greedy by number of cases: files are the unit, shards stay balanced enough.
    shards: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(files, key=lambda p: -len(case_ids(p))):
        smallest = sizes.index(min(sizes))
        shards[smallest].append(path)
        sizes[smallest] += len(case_ids(path))
    return [shard for shard in shards if shard]


def _start(
    framework: str, python: Path | str, files: list[Path], work: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    work.mkdir(parents=True)
    out, log = work / "observations.jsonl", work / "output.log"
    argv = [str(python), str(RUNNER), "--framework", framework, "--out", str(out)]
    argv += ["--work", str(work), *map(str, files)]
    with open(log, "wb") as sink:
        # cwd = the work dir: Prefect reads .env and prefect.toml from the cwd.
        # A session of its own: Prefect's temporary server (a child) goes when the group does.
        proc = subprocess.Popen(
            argv, cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, out, log


def _read(out: Path) -> dict[str, dict[str, Any]]:
    if not out.exists():
        return {}
    return {record["case"]: record for record in map(json.loads, out.read_text().splitlines())}


@pytest.fixture(scope="session")
def observations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """``{"prefect": {case: record}, "baton": {case: record}, "logs": {...}}``."""
    prefect_python = prefect_env.ensure_prefect_venv()
    root = tmp_path_factory.mktemp("conformance")
    runs = []
    for index, shard in enumerate(_shards(CASE_FILES, PREFECT_SHARDS)):
        home = root / f"prefect-home-{index}"
        env = prefect_env.prefect_environment(home)
        runs.append(("prefect", *_start("prefect", prefect_python, shard, root / f"p{index}", env)))
    baton_env = {**os.environ, "BATON_CACHE_DIR": str(root / "baton-cache")}
    runs.append(("baton", *_start("baton", sys.executable, CASE_FILES, root / "b", baton_env)))

    result: dict[str, dict[str, Any]] = {"prefect": {}, "baton": {}, "logs": {}}
    try:
        for framework, proc, out, log in runs:
            try:
                code = proc.wait(timeout=BATCH_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            result[framework].update(_read(out))
            text = log.read_text(errors="replace")
            result["logs"][str(out)] = text
            if code != 0:
                raise AssertionError(f"{framework} runner exited {code}, ending:\n{text[-3000:]}")
    finally:
        for _, proc, _, _ in runs:  # leave no runner, nor a server it started, behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return result


def _describe(record: dict[str, Any] | None) -> Any:
    if record is None:
        return "<case did not run>"
    if "observation" in record:
        return record["observation"]
    return {"case_error": record["case_error"], "traceback": record.get("traceback", "")[-2000:]}


def _leaf_differences(prefect: Any, baton: Any, path: str) -> list[str]:
    """Paths (``logs[2]``, ``returned.stored[1].type``) where two JSON values differ."""
    if isinstance(prefect, dict) and isinstance(baton, dict):
        return [
            problem
            for key in sorted(prefect.keys() | baton.keys())
            for problem in _leaf_differences(
                prefect.get(key, "<missing>"), baton.get(key, "<missing>"), f"{path}.{key}"
            )
        ]
    if isinstance(prefect, list) and isinstance(baton, list) and len(prefect) == len(baton):
        return [
            problem
            for index, (theirs, mine) in enumerate(zip(prefect, baton, strict=True))
            for problem in _leaf_differences(theirs, mine, f"{path}[{index}]")
        ]
    if prefect == baton:
        return []
    return [
        f"{path.lstrip('.')}:\n    prefect: {json.dumps(prefect, sort_keys=True)}"
        f"\n    baton:   {json.dumps(baton, sort_keys=True)}"
    ]


def _compare(prefect: Any, baton: Any, differences: dict[str, Any]) -> list[str]:
    """The mismatches between two observations, allowing the declared differences.

    A declared difference names a top-level key of the observation and pins what
    each framework gives there; every other key must be equal.
    """
    if not isinstance(prefect, dict) or not isinstance(baton, dict):
        return _leaf_differences(prefect, baton, "")
    problems = []
    for key in sorted(prefect.keys() | baton.keys()):
        theirs, mine = prefect.get(key, "<missing>"), baton.get(key, "<missing>")
        declared = differences.get(key)
        if declared is None:
            problems += _leaf_differences(theirs, mine, key)
            continue
        if theirs != declared["prefect"]:
            problems.append(f"{key}: Prefect no longer does what is declared: {theirs!r}")
        if mine != declared["baton"]:
            problems.append(f"{key}: Baton no longer does what is declared: {mine!r}")
    return problems


def test_there_are_enough_cases() -> None:
    assert len(ALL_CASES) >= 30, ALL_CASES
    assert len(set(ALL_CASES)) == len(ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES)
def test_case(case: str, observations: dict[str, dict[str, Any]]) -> None:
    prefect_record = observations["prefect"].get(case)
    baton_record = observations["baton"].get(case)
    assert prefect_record is not None, f"{case} did not run under Prefect"
    assert baton_record is not None, f"{case} did not run under Baton"
    differences = prefect_record["differences"]
    for key, declared in differences.items():
        assert set(declared) == {"prefect", "baton", "why"}, (key, declared)
        assert declared["why"].startswith("compatibility.md#"), declared["why"]
    prefect, baton = _describe(prefect_record), _describe(baton_record)
    if "case_error" in prefect_record or "case_error" in baton_record:
        # The case function itself raised: both frameworks must raise alike.
        if prefect_record.get("case_error") != baton_record.get("case_error"):
            pytest.fail(
                f"{case} raised differently:\nprefect: {json.dumps(prefect, indent=1)}"
                f"\nbaton: {json.dumps(baton, indent=1)}",
                pytrace=False,
            )
        return
    problems = _compare(prefect, baton, differences)
    if problems:
        pytest.fail(f"{case} differs from Prefect 3.8.8:\n" + "\n".join(problems), pytrace=False)


def test_declared_differences_are_documented() -> None:
    """Every ``why`` anchor names a section of docs/compatibility.md."""
    doc = (HERE.parents[1] / "docs" / "compatibility.md").read_text()
    anchors = set()
    for line in doc.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = "".join(c if c.isalnum() or c in " -" else "" for c in title)
            anchors.add(slug.replace(" ", "-"))
    for path in CASE_FILES:
        for anchor in _why_anchors(path):
            assert anchor in anchors, f"{path.name}: docs/compatibility.md has no #{anchor}"


def _why_anchors(path: Path) -> set[str]:
    return set(re.findall(r"compatibility\.md#([a-z0-9-]+)", path.read_text()))
