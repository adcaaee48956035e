#!/usr/bin/env bash
# hack/phase.sh NAME COMMAND...: runs COMMAND and prints how long it took, so a log of
# `make demo` / `make test` (and CI's) shows every phase's wall time, cold or cached.
set -uo pipefail
name="$1"
shift
start=${EPOCHREALTIME/./}
"$@"
rc=$?
tenths=$(( (${EPOCHREALTIME/./} - start) / 100000 ))
printf '== phase %s: %d.%ds%s\n' "$name" $((tenths / 10)) $((tenths % 10)) \
    "$([[ $rc -eq 0 ]] || echo " (failed, exit $rc)")" >&2
exit $rc
