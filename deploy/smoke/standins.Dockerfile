# Local stand-ins for compose.yaml's backing services, used ONLY by deploy/smoke.sh (Docker Hub
# cannot be reached there): PostgreSQL 15 and Redis 7 from Debian bookworm's packages, and moto's
# S3 server (from PyPI) in place of MinIO. One image; each service picks its command in
# compose.smoke.yaml. The real compose.yaml keeps the upstream images.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm
FROM ${BASE_IMAGE}

# moto as in uv.lock; only the S3 backend and the server's Flask (moto[server] would pull every
# backend's dependencies: minutes of pip resolution for nothing).
ARG MOTO_VERSION=5.2.5
ARG BOTO3_VERSION=1.44.5
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        postgresql-15 redis-server \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore \
        "moto[s3]==${MOTO_VERSION}" "boto3==${BOTO3_VERSION}" flask flask-cors

ENV PATH="/usr/lib/postgresql/15/bin:${PATH}"
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN chmod 0755 /usr/local/bin/postgres-entrypoint
