"""Check an upload's credentials and rate limits before its body is read.

FastAPI reads and parses a request's body (here: a file of up to `MAX_UPLOAD_BYTES`, spooled to
disk) before it runs the endpoint's dependencies, so a request without valid credentials, or one
over its rate limit, used to be read in full before its 401 or 429. This middleware answers those
at once, from the headers alone: the bearer token is verified (signature, expiry, audience, then
indexed lookups for a revoked session or a deleted account) and the route's rate limits are
counted for the token's subject and the client address.
A client still sending gets the answer while it sends (the server then reads at most
`server.LINGER_BYTES` more and closes the connection).

The endpoint's own `CurrentUser` dependency still runs (it loads or creates the user row); the
rate limits counted here are not counted again (`ratelimit.rate_limit` skips them).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rekindle.api.deps import ensure_session_active
from rekindle.api.errors import error_body
from rekindle.api.ratelimit import EARLY_CHECKED, check, client_address
from rekindle.db import session_scope
from rekindle.errors import AppError, Unauthorized
from rekindle.users import account_deleted, is_deleted

log = logging.getLogger(__name__)

UPLOAD_ROUTES: dict[str, tuple[str, ...]] = {
    "/api/v1/photos": ("upload",),
    "/api/v1/jobs/upload": ("upload",),
    "/api/v1/restoration/restore": ("upload", "restore"),
    "/api/v1/scans": ("upload",),
}
"""POST routes that take a file -> the rate-limited actions their endpoint counts."""


class UploadGate:
    """ASGI middleware: 401/429 for uploads before a byte of their body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        actions = UPLOAD_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if not actions or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            await anyio.to_thread.run_sync(self._admit, request, actions)
        except AppError as exc:
            # No `Connection: close`: the server reads (and drops) up to `server.LINGER_BYTES` of
            # the body still coming, so the client reads this answer instead of a reset.
            response = JSONResponse(
                error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        except Exception:
            # Whatever else fails here (identity provider or Redis unreachable, ...) is left to
            # the endpoint, which answers it the usual way once the body is read.
            log.debug("upload pre-check failed; left to the endpoint", exc_info=True)
        await self.app(scope, receive, send)

    @staticmethod
    def _admit(request: Request, actions: tuple[str, ...]) -> None:
        """Raise Unauthorized for missing, invalid or revoked credentials (or a deleted account),
        TooManyRequests past a limit; record the actions counted in `request.state`
        (`EARLY_CHECKED`)."""
        runtime: Any = request.app.state.runtime
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("A bearer token is required (Authorization: Bearer <token>).")
        identity = runtime.verifier.verify(token)
        with session_scope(runtime.sessions) as session:
            # A revoked token must not get its body read either; deleted accounts have no user
            # row, so the endpoint would only refuse them after the last byte (ensure_user).
            ensure_session_active(session, identity)
            if is_deleted(session, identity.subject):
                raise account_deleted()
        address = client_address(request, runtime.settings)
        counted: set[str] = set()
        setattr(request.state, EARLY_CHECKED, counted)
        for action in actions:
            check(runtime.limiter, runtime.settings, action, identity.subject, address)
            counted.add(action)
