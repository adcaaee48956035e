"""The distribution users install: ``pip install baton`` is the SDK and the CLI, nothing more.

The wheel is built from this tree and installed into fresh virtualenvs that hold nothing
else, with its dependencies resolved from the package index as a user's install would:

- with pip, at the newest versions the ranges allow (what ``pip install baton`` gives
  on the day);
- with uv at ``--resolution lowest-direct``: every direct dependency at its lower bound;
- with the ``operator`` extra, which must bring the operator's imports.

In each, what a user does first: ``baton --help``, a flow run locally as a script, and
(without the extra) ``baton operator``, which must say which extra to install. The
operator's dependencies must be absent from the plain installs.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ["bash", str(ROOT / "hack" / "uv.sh")]

# What only the "operator" extra may bring (top-level import names and distributions).
OPERATOR_ONLY = {"kopf", "prometheus_client", "aiohttp", "kubernetes"}
# ... and what only the "ui" extra may bring.
UI_ONLY = {"starlette", "jinja2", "uvicorn", "multipart", "markdown_it", "grandalf", "pyparsing"}
# ... and the distributions only the "s3" extra may bring.
# (urllib3 comes with dulwich, the git client of the base install)
S3_ONLY = {"minio", "pycryptodome", "argon2_cffi"}

FLOW = """
from baton import flow, get_run_logger, task


@task(retries=1)
def double(x: int) -> int:
    return 2 * x


@flow(log_prints=True)
def pipeline(n: int = 3) -> int:
    get_run_logger().info("doubling %d numbers", n)
    return sum(double(i) for i in range(n))



if __name__ == "__main__":
    print("result", pipeline(4))
"""

PROBE = """
import importlib.metadata, importlib.util, json
print(json.dumps({
    "dists": sorted(
        d.metadata["Name"].lower().replace("-", "_") for d in importlib.metadata.distributions()
    ),
    "importable": sorted(m for m in %r if importlib.util.find_spec(m) is not None),
}))
"""


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=cwd, check=False)


def ok(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = run(argv, cwd)
    assert result.returncode == 0, (
        f"{argv} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    ok([*UV, "build", "--wheel", "--out-dir", str(out), str(ROOT)])
    (built,) = out.glob("baton-*.whl")
    return built


def fresh_venv(path: Path, *, with_pip: bool) -> Path:
    """A virtualenv of the base interpreter (not this test's .venv) with nothing in it."""
    venv.EnvBuilder(with_pip=with_pip, clear=True).create(path)
    return path / "bin" / "python"


def probe(python: Path) -> dict[str, list[str]]:
    result = ok([str(python), "-c", PROBE % (sorted(OPERATOR_ONLY | UI_ONLY),)])
    probed: dict[str, list[str]] = json.loads(result.stdout)
    return probed


def check_user_commands(python: Path, tmp: Path) -> None:
    """What a user does first with the SDK and the CLI."""
    help_text = ok([str(python.parent / "baton"), "--help"]).stdout
    assert help_text.startswith("usage: baton"), help_text[:200]
    script = tmp / "my_flow.py"
    script.write_text(FLOW)
    flow_run = ok([str(python), str(script)], cwd=tmp)
    assert flow_run.stdout.strip().splitlines()[-1] == "result 12", flow_run.stdout
    assert "doubling 4 numbers" in flow_run.stdout + flow_run.stderr


def test_pip_install_is_the_sdk_and_cli_only(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv", with_pip=True)
    ok([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)])
    found = probe(python)
    assert "baton" in found["dists"]
    assert not OPERATOR_ONLY & set(found["dists"]), found["dists"]
    assert not UI_ONLY & set(found["dists"]), found["dists"]
    assert not S3_ONLY & set(found["dists"]), found["dists"]
    assert found["importable"] == [], found["importable"]
    check_user_commands(python, tmp_path)
    # The operator command says what is missing and how to get it, in one line.
    operator = run([str(python.parent / "baton"), "operator"])
    assert operator.returncode == 1
    assert operator.stderr.startswith("error: the operator needs"), operator.stderr
    assert 'pip install "baton[operator]"' in operator.stderr
    assert "Traceback" not in operator.stderr
    ui = run([str(python.parent / "baton"), "ui"])
    assert ui.returncode == 1
    assert ui.stderr.startswith("error: the UI needs"), ui.stderr
    assert 'pip install "baton[ui]"' in ui.stderr
    assert len(ui.stderr.strip().splitlines()) == 1, ui.stderr


def test_lowest_direct_versions(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv", with_pip=False)
    ok([*UV, "pip", "install", "--quiet", "--python", str(python), "--resolution",
        "lowest-direct", str(wheel)])  # fmt: skip
    check_user_commands(python, tmp_path)


def test_operator_extra(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv", with_pip=False)
    ok([*UV, "pip", "install", "--quiet", "--python", str(python),
        f"baton[operator] @ {wheel.as_uri()}"])  # fmt: skip
    found = probe(python)
    assert {"kopf", "prometheus_client"} <= set(found["importable"]), found
    assert "kubernetes" not in found["dists"], "kopf must log in through Baton's loader"
    ok([str(python), "-c", "import baton.controller.app"])
    assert ok([str(python.parent / "baton"), "operator", "--help"]).stdout.startswith("usage:")


def test_ui_extra(wheel: Path, tmp_path: Path) -> None:
    """``baton[ui]`` brings the UI's imports, and the wheel carries its templates and assets."""
    python = fresh_venv(tmp_path / "venv", with_pip=False)
    ok([*UV, "pip", "install", "--quiet", "--python", str(python),
        f"baton[ui] @ {wheel.as_uri()}"])  # fmt: skip
    found = probe(python)
    assert set(found["importable"]) == UI_ONLY, found
    shipped = ok([str(python), "-c", UI_FILES]).stdout.split()
    assert {"base.html", "run.html", "htmx.min.js", "sse.min.js", "baton.css"} <= set(shipped)
    assert ok([str(python.parent / "baton"), "ui", "--help"]).stdout.startswith("usage:")


UI_FILES = """
import baton.ui.app, pathlib
here = pathlib.Path(baton.ui.app.__file__).parent
print(*sorted(p.name for p in here.rglob("*") if p.is_file()))
"""


def test_metadata_ranges_start_at_the_lock() -> None:
    """Each dependency is a range whose lower bound is exactly the version uv.lock pins.

    The whole suite runs on uv.lock, so the lower bounds are what it covers; the newest
    end of each range is what test_pip_install_is_the_sdk_and_cli_only installs.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"]}
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *(r for extra in extras.values() for r in extra)]
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([^,]+),<([^,]+)", requirement)
        assert match, f"{requirement!r} is not a 'name>=lower,<upper' range"
        name, lower, _upper = match.groups()
        key = name.lower().replace("_", "-")
        assert locked.get(key) == lower, f"{name}: lower bound {lower}, uv.lock {locked.get(key)}"
