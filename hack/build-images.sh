#!/usr/bin/env bash
# Build Baton's three images and, optionally, load them into a kind cluster.
#
#   hack/build-images.sh                 # baton-runtime, baton-operator, baton-examples
#   KIND_CLUSTER=baton hack/build-images.sh   # ... then `kind load docker-image` each
#   BASE_IMAGE=my-python:3.11 hack/build-images.sh   # build from a local base image
#   DOCKER_BUILD_ARGS="--network host" hack/build-images.sh   # extra `docker build` args
#
# Needs a Docker engine. Without registry access, tests/cluster/images.sh (used by
# `make e2e-up` and the e2e tests) builds a local base, starts a private dockerd and calls
# this script with BASE_IMAGE and DOCKER_BUILD_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${VERSION:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/baton/Chart.yaml)}"
DOCKER="${DOCKER:-docker}"

if ! "$DOCKER" info >/dev/null 2>&1; then
    echo "build-images: no Docker engine answers ('$DOCKER info' failed); nothing built." >&2
    exit 1
fi

base_args=()
if [[ -n "${BASE_IMAGE:-}" ]]; then
    base_args=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
fi
read -r -a extra_args <<< "${DOCKER_BUILD_ARGS:-}"

set -x
"$DOCKER" build "${extra_args[@]}" "${base_args[@]}" --build-arg "VERSION=${VERSION}" \
    --target runtime -t "baton-runtime:${VERSION}" .
"$DOCKER" build "${extra_args[@]}" "${base_args[@]}" --build-arg "VERSION=${VERSION}" \
    --target operator -t "baton-operator:${VERSION}" .
"$DOCKER" build "${extra_args[@]}" --build-arg "RUNTIME_IMAGE=baton-runtime:${VERSION}" \
    -t "baton-examples:${VERSION}" examples/flows
# Smoke checks: the package imports, the user is non-root, the CLI answers.
"$DOCKER" run --rm --network none "baton-runtime:${VERSION}" python -c "import baton, sys; print(baton.__version__)"
"$DOCKER" run --rm --network none "baton-runtime:${VERSION}" id -u | grep -qx 10001
# The runtime carries only what a flow needs: none of the operator extra's packages.
"$DOCKER" run --rm --network none "baton-runtime:${VERSION}" python -c \
    "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('kopf', 'prometheus_client', 'aiohttp')))"
"$DOCKER" run --rm --network none "baton-operator:${VERSION}" --version
set +x

if [[ -n "${KIND_CLUSTER:-}" ]]; then
    for image in baton-runtime baton-operator baton-examples; do
        kind load docker-image "${image}:${VERSION}" --name "${KIND_CLUSTER}"
    done
fi
echo "build-images: built baton-runtime, baton-operator and baton-examples at ${VERSION}"
