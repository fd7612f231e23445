"""One error shape for every failure: `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from rekindle.errors import AppError

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5
"""`Retry-After` (seconds) sent with 503 `database_unavailable`."""


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or e["loc"][0], "problem": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "problem": "invalid"}
        message = f"Invalid request: {first['field']}: {first['problem']}."
        return JSONResponse(error_body("validation_error", message, details=problems), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DisconnectionError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
        # The database went away (restart, failover, network), refused a connection, or no pooled
        # connection freed up in time: the transaction was rolled back, so the client may simply
        # retry (docs/reliability.md).
        log.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
        return JSONResponse(
            error_body("database_unavailable", "The database is unavailable; please retry."),
            503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; please retry."), 500
        )
