#!/usr/bin/env bash
# Runs uv with the given arguments: the uv on PATH if there is one, otherwise the pinned
# uv, installed with pip on first use for the Python that hack/pip-python.sh finds and
# run as `python -m uv` (which works whether or not pip put a `uv` script on PATH).
# Where that Python refuses installs (PEP 668), uv goes into a virtualenv of its own in
# the project cache instead.
set -euo pipefail
version="0.13.9"
if command -v uv >/dev/null 2>&1; then
    exec uv "$@"
fi
own="${BATON_CACHE:-$HOME/.cache/baton}/uv-$version"
if [[ -x "$own/bin/uv" ]]; then
    exec "$own/bin/uv" "$@"
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$(bash "$here/pip-python.sh")"
if "$python" -m uv --version >/dev/null 2>&1; then
    exec "$python" -m uv "$@"
fi
echo "[uv] installing uv==$version with $python -m pip" >&2
if "$python" -m pip install --quiet --disable-pip-version-check "uv==$version" 2>/dev/null; then
    exec "$python" -m uv "$@"
fi
echo "[uv] $python refuses installs; installing uv into $own" >&2
rm -rf "$own"
"$python" -m venv "$own" >&2
"$own/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version" >&2
exec "$own/bin/uv" "$@"
