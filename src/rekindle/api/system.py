"""Health, readiness, engine list, and the local store's signed file route."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from rekindle.api.deps import CurrentUser, RuntimeDep
from rekindle.api.observability import Health, Readiness
from rekindle.engines.registry import engine_catalogue
from rekindle.errors import Forbidden, NotFound
from rekindle.storage.base import ObjectNotFound
from rekindle.storage.local import LocalStore

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", tags=["health"], response_model=Health)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is down (named in checks)"}},
)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Database, queue and storage are reachable: 200, else 503 naming what is down."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        with runtime.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"down: {type(exc).__name__}"
    try:
        runtime.store.check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"down: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


class EngineInfo(BaseModel):
    """One engine a request may name."""

    name: str
    kind: Literal["restore", "animate"]
    default: bool = Field(description="The engine used when a request names none")
    options: list[str] = Field(
        description="Options it honours, of denoise, colorize, prompt, seed, mask; a request "
        "naming another gets 422 option_unsupported"
    )
    price: int = Field(description="Credits one request costs")


@router.get("/api/v1/engines", tags=["engines"], response_model=list[EngineInfo])
def list_engines(runtime: RuntimeDep, _user: CurrentUser) -> list[dict[str, object]]:
    """Engines a request may name (restoration, then animation), with their options and price."""
    return engine_catalogue(runtime.settings)


@router.get("/api/v1/files/{key:path}", tags=["files"], include_in_schema=False)
def signed_file(
    key: str,
    runtime: RuntimeDep,
    expires: Annotated[int, Query()],
    sig: Annotated[str, Query()],
    filename: Annotated[str | None, Query()] = None,
) -> FileResponse:
    """Serve a local-store object when the URL's signature is valid and unexpired (else 403)."""
    store = runtime.store
    if not isinstance(store, LocalStore):
        raise NotFound()
    if not store.verify_signature(key, expires, sig, filename or ""):
        raise Forbidden("This link is invalid or has expired.", code="invalid_signature")
    try:
        path = store.path_of(key)
    except ObjectNotFound as exc:
        raise NotFound("The file no longer exists.", code="file_not_found") from exc
    return FileResponse(
        path,
        filename=filename,
        content_disposition_type="attachment" if filename else "inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )
