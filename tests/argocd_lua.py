"""Run Baton's Argo CD health checks the way Argo CD does.

The checks live where Argo CD keeps its built-in ones:
``argocd/resource_customizations/baton.dev/<Kind>/health.lua``.

Argo CD embeds gopher-lua (Lua 5.1) and opens only the base, table and package
libraries plus a "safe" os (time and date): no string or math library, and so no
string methods either. ``obj`` is the live object as a global; the script returns a
table with ``status`` and ``message``. This module reproduces that sandbox on
``lupa.lua51`` so a script that would fail inside Argo CD fails here too.

``lupa`` is a dev dependency (``lupa==2.8``); without it every caller fails, never skips.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Argo CD's layout: resource_customizations/<group>/<Kind>/{health.lua,health_test.yaml,testdata/}.
CUSTOMIZATIONS = ROOT / "argocd" / "resource_customizations"
GROUP = "baton.dev"


def script(kind: str) -> Path:
    """The health check of ``kind`` (a kind of the baton.dev group)."""
    return CUSTOMIZATIONS / GROUP / kind / "health.lua"


_SANDBOX = """
local safe_os = { time = os.time, date = os.date }
getmetatable("").__index = nil
string, math, io, debug, coroutine, python = nil, nil, nil, nil, nil, nil
package.loaded.string, package.loaded.math, package.loaded.io = nil, nil, nil
package.loaded.debug, package.loaded.coroutine = nil, nil
os = safe_os
package.loaded.os = safe_os
"""


def _lua51() -> Any:
    try:
        import lupa.lua51  # noqa: PLC0415
    except ImportError:
        pytest.fail(
            "the Argo CD health checks need the `lupa` package: add `lupa==2.8` to the dev "
            "dependency group in pyproject.toml and run `uv lock && make venv`",
            pytrace=False,
        )
    return lupa.lua51


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) of ``obj`` by ``kind``'s health.lua in a fresh sandbox."""
    return run_script(script(kind), obj)


def run_script(path: Path, obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) of ``obj`` by the health script at ``path``, as Argo CD runs it."""
    lua51 = _lua51()
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute(_SANDBOX)
    # Through JSON: what Argo CD sees is the object's JSON (timestamps are strings).
    plain = json.loads(json.dumps(obj, default=str))
    runtime.globals().obj = runtime.table_from(plain, recursive=True)
    result = runtime.execute(path.read_text())
    if result is None:
        raise AssertionError(f"{path} returned nothing")
    return str(result["status"]), str(result["message"])
