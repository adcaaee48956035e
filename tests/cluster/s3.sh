#!/usr/bin/env bash
# Builds the S3-compatible server the log tests keep run logs in: the Versity S3 Gateway
# (versitygw, Apache-2.0) from its Go module, pinned below, with its posix backend (a
# bucket is a directory). A real S3 server speaking SigV4, never a mock of the protocol.
#
# Cached outside the repository, keyed by the version and this script:
#   ${BATON_CACHE:-$HOME/.cache/baton}/s3/versitygw-<version>-<hash>/versitygw
# Prints the binary's path on its last line; fails loudly when it cannot be built.
set -euo pipefail

module="github.com/versity/versitygw/cmd/versitygw"
version="v1.8.0"
key="$(sha256sum "$0" | cut -c1-12)"
out="${BATON_CACHE:-$HOME/.cache/baton}/s3/versitygw-${version}-${key}"

log() { printf '[s3 build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$out/versitygw" ]]; then
    log "cached: $out/versitygw"
    echo "$out/versitygw"
    exit 0
fi

command -v go >/dev/null || { log "go is not installed: cannot build versitygw"; exit 1; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
log "building versitygw $version from its Go module (cold: about 5 min on 2 cores)"
GOBIN="$out.tmp" GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0 \
    go install -ldflags "-s -w" "$module@$version"
[[ -x "$out.tmp/versitygw" ]] || { log "go install finished but left no binary"; exit 1; }
rm -rf "$out" && mv "$out.tmp" "$out"
log "built in ${SECONDS}s: $out/versitygw"
echo "$out/versitygw"
