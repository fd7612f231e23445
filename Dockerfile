#
# Rekindle: one image for the API, the workers and the migration step (docs/deployment.md).
#
#   docker build -t rekindle .
#   docker run --rm -p 8000:8000 rekindle                       # embedded: SQLite, local folder
#   docker run --rm --env-file .env rekindle rekindle worker    # a worker against production services
#
# Behind a TLS-intercepting proxy or with a private index (docs/deployment.md, "Building"):
#
#   docker build --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt \
#                --build-arg PYPI_INDEX_URL=https://pypi.example.com/simple -t rekindle .
#
# No `# syntax=` line on purpose: it makes BuildKit pull its frontend from Docker Hub, and the
# built-in frontend already handles `RUN --mount` (cache, secret, from).
#
# Stages, after uv's documented Docker pattern (https://docs.astral.sh/uv/guides/integration/docker/):
#   uv      - uv itself, pinned, installed with pip into /opt/uv (used by the build stages only);
#   deps    - the locked third-party dependencies in /app/.venv (rebuilt only when uv.lock changes);
#   wheel   - the project built as a wheel from src/;
#   runtime - the deps venv (one layer), then the project wheel installed into it (a small second
#             layer: a source edit rebuilds only that), copied as root so the runtime user cannot
#             rewrite its own code; only /data is writable by uid 10001.
# The OpenCV (headless), PyAV and psycopg binary wheels bundle their native libraries; they need
# only libstdc++ and zlib, which the slim image has, so no apt packages are installed.

# Pinned tag (pin a digest too for reproducible releases: --build-arg PYTHON_IMAGE=...@sha256:...).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS uv

ARG UV_VERSION=0.13.9
# Optional package index (PyPI mirror or proxy) for pip, uv and the build backend. `uv sync
# --frozen` still downloads every locked package from the file URL recorded in uv.lock, so a
# mirror must serve those same paths (or re-lock against it).
ARG PYPI_INDEX_URL=
# Optional CA bundle, as a BuildKit secret (never stored in a layer):
#   --secret id=ca-bundle,src=/path/to/ca-certificates.crt
# `tls-env` points pip, uv and Python's ssl module at it when it is given.
RUN printf '%s\n' \
      'if [ -s /run/secrets/ca-bundle ]; then' \
      '  export SSL_CERT_FILE=/run/secrets/ca-bundle PIP_CERT=/run/secrets/ca-bundle' \
      '  export REQUESTS_CA_BUNDLE=/run/secrets/ca-bundle' \
      'fi' \
      'if [ -n "${PYPI_INDEX_URL:-}" ]; then' \
      '  export PIP_INDEX_URL="$PYPI_INDEX_URL" UV_DEFAULT_INDEX="$PYPI_INDEX_URL"' \
      'fi' > /usr/local/bin/tls-env

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN --mount=type=secret,id=ca-bundle \
    . /usr/local/bin/tls-env \
 && python -m pip install --target /opt/uv "uv==${UV_VERSION}" \
 && /opt/uv/bin/uv --version

ENV PATH="/opt/uv/bin:${PATH}" \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# --------------------------------------------------------------------------------------------------
FROM uv AS deps

ARG PYPI_INDEX_URL=
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca-bundle \
    . /usr/local/bin/tls-env \
 && uv sync --frozen --no-dev --no-install-project

# --------------------------------------------------------------------------------------------------
FROM uv AS wheel

ARG PYPI_INDEX_URL=
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca-bundle \
    . /usr/local/bin/tls-env \
 && uv build --wheel --out-dir /dist

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG UID=10001
RUN groupadd --system --gid ${UID} rekindle \
 && useradd --system --uid ${UID} --gid rekindle --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin rekindle \
 && mkdir -p /data \
 && chown rekindle:rekindle /data

# Layer 1: the third-party dependencies (~590 MB), unchanged until uv.lock changes. Root-owned.
COPY --from=deps /app/.venv /app/.venv
COPY deploy/healthcheck.py /app/healthcheck.py
# Last layer: the project itself (~2 MB), with its bytecode. Root-owned. Kept last so that a source
# edit changes this layer only.
RUN --mount=from=wheel,source=/dist,target=/dist \
    --mount=from=uv,source=/opt/uv,target=/opt/uv \
    /opt/uv/bin/uv pip install --python /app/.venv/bin/python --no-deps --no-index \
        --compile-bytecode /dist/*.whl

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REKINDLE_DATA_DIR=/data

WORKDIR /app
USER rekindle
VOLUME ["/data"]
EXPOSE 8000

# One probe for every role (deploy/healthcheck.py): `serve` answers GET /healthz on the port of its
# own command line; `worker` answers a Celery ping on the broker; one-shot commands pass.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/app/healthcheck.py"]

CMD ["rekindle", "serve", "--host", "0.0.0.0", "--port", "8000"]
