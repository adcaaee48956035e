#!/usr/bin/env bash
# Builds the local control plane (etcd + one multi-call `kube` binary holding
# kube-apiserver, kube-controller-manager, kube-scheduler and kubelet) from the
# published Go modules pinned in tests/cluster/{kube,etcd}/go.mod.
#
# Binaries are cached outside the repository, keyed by the Kubernetes version
# and a hash of the module files, so a second build is a no-op:
#   ${BATON_CACHE:-$HOME/.cache/baton}/controlplane/<version>-<hash>/{kube,etcd}
# Prints the cache directory on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The version a module is pinned at, whether go.mod lists it alone or in a block.
pinned() { awk -v m="$2" '($1 == m && $2 ~ /^v/) {print $2} ($1 == "require" && $2 == m) {print $3}' "$1" | head -1; }
kube_version="$(pinned "$here/kube/go.mod" k8s.io/kubernetes)"
etcd_version="$(pinned "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ "$kube_version" == v1.* && "$etcd_version" == v3.* ]] || { echo "cannot read pinned versions from go.mod" >&2; exit 1; }
key="$(cat "$here"/kube/go.mod "$here"/kube/go.sum "$here"/kube/main.go \
           "$here"/etcd/go.mod "$here"/etcd/go.sum "$here"/etcd/main.go "$0" | sha256sum | cut -c1-12)"
out="${BATON_CACHE:-$HOME/.cache/baton}/controlplane/${kube_version}-${key}"

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$out/kube" && -x "$out/etcd" ]]; then
    log "cached: $out (kubernetes $kube_version, etcd $etcd_version)"
    echo "$out"
    exit 0
fi

command -v go >/dev/null || { log "go is not installed"; exit 1; }
mkdir -p "$out.tmp"
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export CGO_ENABLED=0

# Heartbeat so a 20-minute cold build never looks hung.
( start=$SECONDS; while sleep 30; do log "still building... $((SECONDS - start))s"; done ) &
heartbeat=$!
trap 'kill $heartbeat 2>/dev/null || true' EXIT

minor="${kube_version#v1.}"; minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

log "downloading Go modules for etcd $etcd_version"
(cd "$here/etcd" && go mod download)
log "building etcd $etcd_version"
(cd "$here/etcd" && go build -ldflags "-s -w" -o "$out.tmp/etcd" .)

log "downloading Go modules for kubernetes $kube_version (large on first run)"
(cd "$here/kube" && go mod download)
log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet $kube_version (cold: ~20 min on 2 cores)"
(cd "$here/kube" && go build -ldflags "-s -w $ldflags" -o "$out.tmp/kube" .)

rm -rf "$out" && mv "$out.tmp" "$out"
log "built in ${SECONDS}s: $out"
echo "$out"
