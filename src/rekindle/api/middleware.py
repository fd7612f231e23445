"""ASGI middleware for production: request ids, access lines and HTTP metrics, security headers,
and request body limits by kind of body.

- `RequestContext`: takes a sane incoming `X-Request-ID` (1-128 characters of `A-Za-z0-9._:-`) or
  makes one, binds it to the log context for the whole request (so it also travels to the worker,
  see `queue.send`), echoes it in the response, writes one access line (method, path without the
  query string, status, duration_ms, client, user_id) and observes the latency histogram by route
  template (`/api/v1/photos/{photo_id}`, never the raw path) and status.
- `SecurityHeaders`: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
  `Referrer-Policy: no-referrer` (signed URLs never leak through a Referer), a
  `Content-Security-Policy` unless the response has its own (the built-in page sets one;
  `/docs` and `/redoc` get one that lets Swagger UI / ReDoc load from their CDN), `Cache-Control:
  no-store` on API answers that did not choose, and `Strict-Transport-Security` when
  `HSTS_SECONDS` > 0.
- `RequestBodyLimit`: multipart uploads are bounded by `MAX_UPLOAD_BYTES` (plus part headers),
  every other body by `MAX_REQUEST_BODY_BYTES`; both answer 413 in the API's error shape.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rekindle.api.body_limit import BodySizeLimit
from rekindle.api.upload_gate import UPLOAD_ROUTES
from rekindle.imaging.mask import MAX_MASK_BYTES
from rekindle.logcontext import current, new_context
from rekindle.metrics import HTTP_LATENCY

log = logging.getLogger("rekindle.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")
"""Probes and scrapes: their access lines are logged at DEBUG only."""


def request_id_from(scope: Scope) -> str:
    """The client's `X-Request-ID` when it is sane, else a new random one (32 hex digits)."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SANE_REQUEST_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _template_regex(template: str) -> re.Pattern[str]:
    parts, last = [], 0
    for match in _PARAM.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        parts.append(".+" if match.group(2) == "path" else "[^/]+")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$")


def _templates(app: object) -> list[tuple[re.Pattern[str], str]]:
    """Full path templates of the app's documented routes, most specific first (cached)."""
    cached = getattr(app, "_rekindle_route_templates", None)
    if cached is None:
        paths = list(app.openapi().get("paths", {})) if hasattr(app, "openapi") else []
        paths.sort(key=lambda t: (t.count("{"), -len(t)))
        cached = [(_template_regex(t), t) for t in paths]
        with contextlib.suppress(AttributeError):
            setattr(app, "_rekindle_route_templates", cached)  # noqa: B010
    return cached


def route_template(scope: Scope) -> str:
    """The matched route's full path template (`/api/v1/photos/{photo_id}`), or `unmatched` when
    no route matched (so 404 scans add no label values).

    Routers included in others only know their own part of the path, so the full template is the
    documented path (OpenAPI) the request's path matches; undocumented routes give their own."""
    path = scope.get("path", "")
    app = scope.get("app")
    try:
        for regex, template in _templates(app):
            if regex.match(path):
                return template
        for mounted in getattr(app, "routes", []):
            prefix = getattr(mounted, "path", None)
            if isinstance(mounted, Mount) and prefix and path.startswith(prefix + "/"):
                return prefix + "/{path}"
    except Exception:
        pass
    route = scope.get("route")
    own = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(own) if own else "unmatched"


_INTERNAL_ERROR = json.dumps(
    {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side; please retry.",
        }
    }
).encode()
_JSON_HEADERS = [(b"content-type", b"application/json")]


class RequestContext:
    """Request id, access line and latency histogram for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        status = 500
        responded = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with new_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                # Logged here, inside the request's context (so with its id), and answered in the
                # API's error shape; past the first byte there is nothing left to answer.
                log.exception("unhandled error")
                if responded:
                    raise
                await send_with_id(
                    {"type": "http.response.start", "status": 500, "headers": _JSON_HEADERS}
                )
                await send_with_id({"type": "http.response.body", "body": _INTERNAL_ERROR})
            finally:
                seconds = time.perf_counter() - started
                path = scope.get("path", "")
                HTTP_LATENCY.labels(scope.get("method", ""), route_template(scope), status).observe(
                    seconds
                )
                client = scope.get("client")
                log.log(
                    logging.DEBUG if path in _QUIET_PATHS else logging.INFO,
                    "%s %s %s",
                    scope.get("method", ""),
                    path,
                    status,
                    extra={
                        "method": scope.get("method", ""),
                        "path": path,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                        "client": client[0] if client else None,
                        **({"user_id": current()["user_id"]} if "user_id" in current() else {}),
                    },
                )


DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""For API answers (JSON, files): nothing may load, nothing may frame them."""
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
        "font-src 'self' https://fonts.gstatic.com",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)
"""FastAPI's `/docs` (Swagger UI) and `/redoc` pages: an inline bootstrap script and their CDN."""


class SecurityHeaders:
    """Adds the security headers a response has not set itself."""

    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains" if hsts_seconds > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path in ("/docs", "/redoc", "/docs/oauth2-redirect") else DEFAULT_CSP
        defaults: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", csp.encode()),
        ]
        if path.startswith("/api/"):
            defaults.append((b"cache-control", b"no-store"))
        if self.hsts:
            defaults.append((b"strict-transport-security", self.hsts.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


UPLOAD_PATHS = frozenset(UPLOAD_ROUTES)
"""The routes that take a file: the only ones allowed an upload-sized body."""
RESTORE_PATH = re.compile(r"^/api/v1/(?:photos|jobs)/[^/]+/restore$")
"""The restore routes, whose JSON body may carry a damage mask as a base64 data URI."""
RESTORE_BODY_BYTES = MAX_MASK_BYTES * 4 // 3 + 1024 * 1024
"""A restore body's limit: a 10 MB mask in base64 plus the other options. A mask just over 10 MB
still gets its own 422 (`mask_too_large`); a body over this limit gets 413."""


class RequestBodyLimit:
    """413 for bodies over their limit: `upload_bytes` for multipart uploads to `UPLOAD_PATHS`,
    `other_bytes` for every other body (JSON, webhooks). The route decides, not the client's
    `Content-Type`: any route's body is read whole before its handler runs. Counting is streamed
    (see `BodySizeLimit`)."""

    def __init__(self, app: ASGIApp, *, upload_bytes: int, other_bytes: int, upload_message: str):
        self.app = app
        self.uploads = BodySizeLimit(app, max_body_bytes=upload_bytes, message=upload_message)
        self.restores = BodySizeLimit(
            app,
            max_body_bytes=max(RESTORE_BODY_BYTES, other_bytes),
            message="The request body is larger than the restore limit.",
        )
        self.restores.body = json.dumps(
            {
                "error": {
                    "code": "request_too_large",
                    "message": self._other_message(max(RESTORE_BODY_BYTES, other_bytes)),
                }
            }
        ).encode()
        self.others = BodySizeLimit(
            app,
            max_body_bytes=other_bytes,
            message=f"The request body is larger than the {other_bytes // 1024} KB limit.",
        )
        error = {"code": "request_too_large", "message": self._other_message(other_bytes)}
        self.others.body = json.dumps({"error": error}).encode()

    @staticmethod
    def _other_message(other_bytes: int) -> str:
        return f"The request body is larger than the {other_bytes // 1024} KB limit."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.lower()
                break
        if content_type.startswith(b"multipart/") and scope.get("path") in UPLOAD_PATHS:
            await self.uploads(scope, receive, send)
        elif RESTORE_PATH.match(scope.get("path", "")):
            await self.restores(scope, receive, send)
        else:
            await self.others(scope, receive, send)
