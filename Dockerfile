# Baton's images, from one locked dependency set (uv.lock):
#
#   runtime   the base image flow authors build on: Python + the `baton` package (SDK
#             and CLI; no operator dependencies).
#             FROM it, COPY your flows into /opt/baton/flow, done (examples/flows/Dockerfile).
#             No ENTRYPOINT: the operator runs `baton execute` as the Job's command.
#   operator  `baton operator` (the kopf operator the Helm chart deploys): baton[operator].
#
#   docker build --target runtime  -t baton-runtime:0.1.0  .
#   docker build --target operator -t baton-operator:0.1.0 .
#
# hack/build-images.sh builds both (and the examples image) and loads them into kind.
#
# BASE_IMAGE is pinned by digest so a rebuild starts from the same bytes. Without
# registry access, build from a local image of the same Debian/Python instead:
#   docker build --build-arg BASE_IMAGE=<local python 3.11 image> ...
# It must provide python3.11 at /usr/local/bin (as the official image does): the
# virtual environment is copied between stages and points at that interpreter.
# tests/cluster/images.sh builds such a base from a debootstrap root file system.
#
# Behind a TLS-intercepting proxy, pass its CA bundle as the build secret "ca-bundle"
# (--secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt): the builder's downloads
# trust it, and no layer keeps it. Without the secret, nothing changes.
#
# No "# syntax=" line: BuildKit would fetch that frontend from a registry, and the
# built-in frontend has everything used here (RUN --mount=type=secret).
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

# --- uv: the build tools, here only ------------------------------------------------
FROM ${BASE_IMAGE} AS uv
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/opt/baton/venv
# with_ca: trust the optional "ca-bundle" secret for the command's downloads.
RUN --mount=type=secret,id=ca-bundle \
    printf '%s\n' '#!/bin/sh' \
      'if [ -s /run/secrets/ca-bundle ]; then' \
      '  export SSL_CERT_FILE=/run/secrets/ca-bundle PIP_CERT=/run/secrets/ca-bundle' \
      'fi' \
      'exec "$@"' > /usr/local/bin/with_ca \
    && chmod +x /usr/local/bin/with_ca \
    && with_ca python3 -m pip install "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./

# --- builder: the runtime's environment, the SDK and CLI only (no operator extra) ------
FROM uv AS builder
# Dependencies first (exactly uv.lock, no dev group), so code changes reuse this layer.
RUN --mount=type=secret,id=ca-bundle with_ca uv sync --frozen --no-dev --no-install-project
# Then Baton itself, as a regular (non-editable) install: the venv must not point at /src.
COPY operator/ operator/
RUN --mount=type=secret,id=ca-bundle with_ca uv sync --frozen --no-dev --no-editable \
    && /opt/baton/venv/bin/baton --version \
    && ! /opt/baton/venv/bin/python -c "import kopf" 2>/dev/null

# --- operator-builder: the same plus the "operator" and "ui" extras ------------------
# (kopf, prometheus-client; Starlette, Jinja2, uvicorn...: the chart's `ui.enabled` runs
# `baton ui` from this image too)
FROM uv AS operator-builder
RUN --mount=type=secret,id=ca-bundle with_ca \
    uv sync --frozen --no-dev --extra operator --extra ui --no-install-project
COPY operator/ operator/
RUN --mount=type=secret,id=ca-bundle with_ca \
    uv sync --frozen --no-dev --extra operator --extra ui --no-editable \
    && /opt/baton/venv/bin/python -c "import baton.controller.app, baton.ui.app"

# --- image: what both images share (a fixed non-root user, the environment) ----------
FROM ${BASE_IMAGE} AS image
# A fixed numeric uid/gid: pods with runAsNonRoot (the Job default) can verify it.
RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/baton \
       --no-create-home --shell /usr/sbin/nologin baton
ENV PATH=/opt/baton/venv/bin:${PATH} \
    VIRTUAL_ENV=/opt/baton/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# --- runtime: what flow pods run ----------------------------------------------------
FROM image AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="baton-runtime" \
      org.opencontainers.image.description="Baton's flow runtime: the base image for flow images" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/baton/venv /opt/baton/venv
# Flow code goes here; entrypoints (flows/hello.py:hello) are relative to it.
WORKDIR /opt/baton/flow
USER 10001:10001

# --- operator -----------------------------------------------------------------------
FROM image AS operator
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="baton-operator" \
      org.opencontainers.image.description="Baton's Kubernetes operator and UI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=operator-builder /opt/baton/venv /opt/baton/venv
WORKDIR /opt/baton
USER 10001:10001
EXPOSE 4200 8080 9090
ENTRYPOINT ["baton"]
CMD ["operator", "--liveness=http://0.0.0.0:8080/healthz"]
