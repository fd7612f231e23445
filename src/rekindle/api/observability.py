"""`GET /metrics`: this API process's Prometheus metrics (text exposition format).

Open by default, like `/healthz`: keep it off the public ingress, or set `METRICS_TOKEN` and
scrape with `Authorization: Bearer <token>`. Worker metrics are served by each worker on
`WORKER_METRICS_PORT` (see `rekindle.metrics`).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from rekindle.api.deps import RuntimeDep
from rekindle.api.openapi import ErrorBody
from rekindle.errors import Unauthorized
from rekindle.metrics import refresh_gauges

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """`GET /healthz`: the process is up."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """`GET /readyz`: `ready` when every dependency answers; `checks` maps each (database,
    queue, storage) to `ok` or `down: <error type>`."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format (version 0.0.4)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: {"model": ErrorBody, "description": "METRICS_TOKEN is set and was not given"},
    },
)
def metrics(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Prometheus metrics of this API process: HTTP latency by route and status, rate-limited
    requests, credits moved, queue depth and unfinished attempts (measured now).

    Raises Unauthorized (401) when `METRICS_TOKEN` is set and the bearer token differs."""
    token = runtime.settings.metrics_token
    if token:
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("A metrics token is required (Authorization: Bearer <token>).")
    refresh_gauges(runtime)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
