#!/usr/bin/env bash
# Runs uv with the given arguments: the uv on PATH if there is one, otherwise the pinned
# uv, installed on first use into a virtualenv of its own in the project cache. A fresh
# virtualenv always has pip (ensurepip), whichever python3 comes first on PATH -- under
# make that is uv's .venv, which has none -- and PEP 668 does not apply inside it.
set -euo pipefail
version="0.13.9"
if command -v uv >/dev/null 2>&1; then
    exec uv "$@"
fi
own="${BATON_CACHE:-$HOME/.cache/baton}/uv-$version"
if [[ ! -x "$own/bin/uv" ]]; then
    echo "[uv] installing uv==$version into $own" >&2
    rm -rf "$own"
    python3 -m venv "$own" >&2
    "$own/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version" >&2
fi
exec "$own/bin/uv" "$@"
