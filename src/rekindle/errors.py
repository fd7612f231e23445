"""Errors that reach the API: each has an HTTP status, a stable `code` and a human `message`.

One handler (`install_error_handlers`) renders every one of them as
`{"error": {"code": ..., "message": ...}}` with its status. Services raise these; endpoints never
build error responses by hand.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base class. Subclasses set `status` and a default `code`/`message`."""

    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{self.code}: {self.message}")


class BadRequest(AppError):
    status, code, message = 400, "bad_request", "The request could not be processed."


class InvalidImage(AppError):
    """The upload is not a usable image (corrupt, truncated, too many pixels, ...)."""

    status, code, message = 422, "invalid_image", "The file could not be read as an image."


class Unprocessable(AppError):
    """The request is well-formed but cannot be honoured as asked (an option the engine does not
    take, a mask that is not a usable PNG)."""

    status, code, message = 422, "unprocessable", "The request cannot be processed as asked."


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Only JPEG, PNG, HEIC/HEIF, WebP and TIFF images are accepted."


class PayloadTooLarge(AppError):
    status, code, message = 413, "file_too_large", "The file is larger than the upload limit."


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "A valid bearer token is required."


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "You may not do this."


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(AppError):
    status, code, message = 409, "conflict", "The resource is busy."


class PaymentRequired(AppError):
    status, code, message = 402, "insufficient_credits", "Not enough credits."


class TooManyRequests(AppError):
    status, code, message = 429, "rate_limited", "Too many requests, please slow down."


class ServiceUnavailable(AppError):
    status, code, message = 503, "service_unavailable", "A backing service is unavailable."
