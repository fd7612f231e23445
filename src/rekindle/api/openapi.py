"""Shared OpenAPI declarations: the error body and the statuses every route may answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Missing, invalid or expired bearer token",
        404: "Not found (or not yours)",
        409: "Conflict with the resource's state",
        413: "Upload too large",
        415: "Unsupported media type",
        422: "Invalid input",
        503: "A backing service is unavailable",
    }.items()
}
