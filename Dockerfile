# syntax=docker/dockerfile:1
#
# Rekindle: one image for the API, the workers and the migration step (docs/deployment.md).
#
#   docker build -t rekindle .
#   docker run --rm -p 8000:8000 rekindle                       # embedded: SQLite, local folder
#   docker run --rm --env-file .env rekindle rekindle worker    # a worker against production services
#
# Two stages, after uv's documented Docker pattern (https://docs.astral.sh/uv/guides/integration/docker/):
# the builder resolves the locked dependencies into /app/.venv (a layer cached until uv.lock
# changes), then installs the project itself; the runtime stage copies only that venv and the
# sources onto a clean python:3.11-slim and runs as an unprivileged user. The OpenCV (headless) and
# PyAV wheels bundle their own native libraries; they need only libstdc++ and zlib, which the slim
# image already has, so no apt packages are installed.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install "uv>=0.5,<1"

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# Then the project itself (non-editable, so the runtime stage needs only the venv).
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG UID=10001
RUN groupadd --system --gid ${UID} rekindle \
 && useradd --system --uid ${UID} --gid rekindle --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin rekindle \
 && mkdir -p /data \
 && chown rekindle:rekindle /data

COPY --from=builder --chown=rekindle:rekindle /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REKINDLE_DATA_DIR=/data

WORKDIR /app
USER rekindle
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers while the process is up (readiness of the backing services is /readyz).
# The slim image has no curl: the probe is Python's own HTTP client.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["rekindle", "serve", "--host", "0.0.0.0", "--port", "8000"]
