#!/usr/bin/env bash
# Builds every image the e2e node runs, with no image registry anywhere:
#
#   baton-pause:<v>      the pod sandbox: tests/cluster/pause, a static Go binary FROM scratch
#   baton-python:3.11    the base: a debootstrap bookworm root file system with python3.11
#                        (and pip) at /usr/local/bin like the official python image
#   baton-runtime:<v>    Dockerfile target runtime, FROM baton-python
#   baton-operator:<v>   Dockerfile target operator
#   baton-examples:<v>   examples/flows/Dockerfile, FROM baton-runtime
#
# and saves them into one docker-archive tarball that `ctr images import` loads into the
# node's containerd. Needs root, Debian's debootstrap and docker.io (apt-get), Go.
#
# Cached in ${BATON_CACHE:-~/.cache/baton}/images, keyed by the inputs:
#   base-<key>.tar           the root file system (key: this script + the package list)
#   docker/                  the private dockerd's data root (its layer cache)
#   baton-images-<v>-<key>.tar   the archive (key: the base + every file the images copy)
# so an unchanged tree costs nothing and a code change rebuilds only the last layers.
# Prints the archive's path on its last line.
#
# Downloads: debootstrap uses the Debian mirror this machine's apt sources name (read at
# run time); the Dockerfile's pip/uv steps reach the package index with --network host and
# trust the host's CA bundle through the build secret "ca-bundle".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${BATON_CACHE:-$HOME/.cache/baton}/images"
version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/baton/Chart.yaml")"
# Debian's docker.io client: its built-in BuildKit needs no buildx plugin.
docker_cli="${DOCKER_CLI:-/usr/bin/docker}"
run_dir=/run/baton-docker
sock="unix://$run_dir/docker.sock"
suite=bookworm
packages=python3,python3-pip,ca-certificates

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
docker() { "$docker_cli" -H "$sock" "$@"; }

[[ $EUID -eq 0 ]] || { log "needs root (debootstrap, dockerd)"; exit 1; }
mkdir -p "$cache"

base_key="$( { cat "$0"; echo "$suite $packages"; } | sha256sum | cut -c1-12)"
files_key="$(cd "$root" && find Dockerfile .dockerignore pyproject.toml uv.lock README.md \
    operator examples/flows tests/cluster/pause -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
    -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
key="$(echo "$base_key $files_key" | sha256sum | cut -c1-12)"
archive="$cache/baton-images-$version-$key.tar"
if [[ -s "$archive" ]]; then
    log "cached: $archive"
    echo "$archive"
    exit 0
fi
start=$SECONDS

# --- the base root file system -------------------------------------------------------
mirror_url() {
    # The first Debian mirror (not the security archive) in this machine's apt sources,
    # in the deb822 (.sources) or one-line (.list) format.
    local files=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    { for f in "${files[@]}"; do if [[ -f "$f" ]]; then cat "$f"; fi; done; } | awk '
        /^URIs:/ { for (i = 2; i <= NF; i++) print $i }
        /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' |
        grep -v -- '-security' | head -1
}

base_tar="$cache/base-$base_key.tar"
if [[ ! -s "$base_tar" ]]; then
    command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
    mirror="$(mirror_url)"
    [[ -n "$mirror" ]] || { log "no Debian mirror found in the apt sources"; exit 1; }
    rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap $suite ($packages) from the apt sources' mirror"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
        > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    # Shape it like the official python image: the interpreter at /usr/local/bin, pip
    # usable in image builds (no PEP 668 marker: the image is the environment).
    for name in python3.11 python3 python; do ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/$name"; done
    rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
    # Nothing host-specific stays: no mirror address, no resolver, no package lists.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
        "$rootfs/etc/apt/sources.list" "$rootfs"/etc/apt/sources.list.d/* \
        "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname" "$rootfs/debootstrap"
    : > "$rootfs/etc/resolv.conf"
    tar --numeric-owner --sort=name --mtime=@0 -C "$rootfs" -cf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf "$rootfs"
    trap - EXIT
    log "base root file system: $base_tar ($(du -h "$base_tar" | cut -f1), $((SECONDS - start))s)"
fi

# --- a private dockerd (nothing else may be running on a CI machine) ------------------
command -v dockerd >/dev/null || { log "dockerd is not installed (apt-get install docker.io)"; exit 1; }
mkdir -p "$run_dir"
started_dockerd=""
if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (data root $cache/docker)"
    # No bridge and no iptables: builds use --network host, smoke runs --network none.
    setsid dockerd --host "$sock" --data-root "$cache/docker" --exec-root "$run_dir/exec" \
        --pidfile "$run_dir/docker.pid" --bridge=none --iptables=false --ip-masq=false \
        --ip-forward=false --storage-driver=overlay2 > "$cache/dockerd.log" 2>&1 < /dev/null &
    started_dockerd=$!
    for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { tail -20 "$cache/dockerd.log" >&2; exit 1; }
fi
stop_dockerd() {
    [[ -n "$started_dockerd" ]] || return 0
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
}
trap stop_dockerd EXIT

base_image="baton-python:3.11-$base_key"
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    docker import -c 'ENV LANG=C.UTF-8' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["python3"]' "$base_tar" "$base_image" >/dev/null
    log "imported $base_image"
fi

pause_ctx="$(mktemp -d)"
(cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$pause_ctx/pause" .)
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$pause_ctx/Dockerfile"
DOCKER_BUILDKIT=1 docker build -q -t "baton-pause:$version" "$pause_ctx" >/dev/null
rm -rf "$pause_ctx"

build_args=(--network host --build-arg "BASE_IMAGE=$base_image")
ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
[[ -s "$ca" ]] && build_args+=(--secret "id=ca-bundle,src=$ca")
log "building baton-runtime, baton-operator, baton-examples $version"
DOCKER_BUILDKIT=1 DOCKER="$docker_cli" DOCKER_HOST="$sock" DOCKER_BUILD_ARGS="${build_args[*]}" \
    VERSION="$version" bash "$root/hack/build-images.sh" >&2

docker save -o "$archive.tmp" "baton-pause:$version" "baton-runtime:$version" \
    "baton-operator:$version" "baton-examples:$version"
mv "$archive.tmp" "$archive"
find "$cache" -maxdepth 1 -name 'baton-images-*.tar' ! -name "$(basename "$archive")" -delete
log "built in $((SECONDS - start))s: $archive ($(du -h "$archive" | cut -f1))"
echo "$archive"
