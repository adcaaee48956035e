"""mypy --strict on user code: the decorators keep signatures, sync and async alike.

``typed_user_code.py`` is what a user writes; its ``assert_type`` lines pin what
``@task``/``@flow`` give for plain and ``async def`` functions (an awaited async task is
its return type, ``return_state=True`` a ``State`` of it, ``.submit()`` a future of it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

HERE = Path(__file__).resolve().parent


def test_user_code_type_checks_strictly(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "mypy", "--strict", "--config-file", "/dev/null"]
    argv += ["--cache-dir", str(tmp_path / "cache"), str(HERE / "typed_user_code.py")]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
