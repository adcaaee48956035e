#!/usr/bin/env bash
# Build Baton's three images and, optionally, load them into a kind cluster.
#
#   hack/build-images.sh                 # baton-runtime, baton-operator, baton-examples
#   KIND_CLUSTER=baton hack/build-images.sh   # ... then `kind load docker-image` each
#   BASE_IMAGE=my-python:3.11 hack/build-images.sh   # build from a local base image
#
# Not part of `make test`: it needs a Docker engine (and, for the default pinned base,
# registry access), which CI and the development machines here do not have. The
# Dockerfiles are checked statically by tests/unit/test_chart_static.py instead.
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

set -x
"$DOCKER" build "${base_args[@]}" --build-arg "VERSION=${VERSION}" \
    --target runtime -t "baton-runtime:${VERSION}" .
"$DOCKER" build "${base_args[@]}" --build-arg "VERSION=${VERSION}" \
    --target operator -t "baton-operator:${VERSION}" .
"$DOCKER" build --build-arg "RUNTIME_IMAGE=baton-runtime:${VERSION}" \
    -t "baton-examples:${VERSION}" examples/flows
# Smoke checks: the package imports, the user is non-root, the CLI answers.
"$DOCKER" run --rm "baton-runtime:${VERSION}" python -c "import baton, sys; print(baton.__version__)"
"$DOCKER" run --rm "baton-runtime:${VERSION}" id -u | grep -qx 10001
"$DOCKER" run --rm "baton-operator:${VERSION}" --version
set +x

if [[ -n "${KIND_CLUSTER:-}" ]]; then
    for image in baton-runtime baton-operator baton-examples; do
        kind load docker-image "${image}:${VERSION}" --name "${KIND_CLUSTER}"
    done
fi
echo "build-images: built baton-runtime, baton-operator and baton-examples at ${VERSION}"
