#!/usr/bin/env bash
# Prints the first Python 3 that can run pip: $PYTHON if set, then every python3 and
# python on PATH in order. Under make, PATH starts with .venv/bin, whose interpreter is
# uv's virtualenv and has no pip, so "python3 -m pip" alone is not enough.
set -euo pipefail
candidates=()
[[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
mapfile -t -O "${#candidates[@]}" candidates < <(type -ap python3 python 2>/dev/null || true)
for python in "${candidates[@]}"; do
    if "$python" -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "$python"
        exit 0
    fi
done
echo "no Python 3.11+ with pip on PATH (tried: ${candidates[*]:-none}); install python3-pip" >&2
exit 1
