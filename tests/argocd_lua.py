"""Run Baton's Argo CD health checks (argocd/health/<Kind>.lua) the way Argo CD does.

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
HEALTH = ROOT / "argocd" / "health"

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
    """(status, message) of ``obj`` by argocd/health/<kind>.lua in a fresh sandbox."""
    lua51 = _lua51()
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute(_SANDBOX)
    # Through JSON: what Argo CD sees is the object's JSON (timestamps are strings).
    plain = json.loads(json.dumps(obj, default=str))
    runtime.globals().obj = runtime.table_from(plain, recursive=True)
    result = runtime.execute((HEALTH / f"{kind}.lua").read_text())
    if result is None:
        raise AssertionError(f"{kind}.lua returned nothing")
    return str(result["status"]), str(result["message"])
