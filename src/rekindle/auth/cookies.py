"""The refresh cookie: HttpOnly, SameSite=Strict, scoped to `/api/v1/auth`, Secure off loopback.

HttpOnly keeps it from scripts (an injected script cannot steal the session); SameSite=Strict
keeps other sites' pages from sending it; the path keeps it off every request but the auth
endpoints. `Secure` is left out only for plain-http requests to a loopback host (`rekindle serve`
on a laptop), where browsers would otherwise drop the cookie; anywhere else it is set, so the
cookie never travels over plain http (RFC 6265bis section 4.1.2.5).
"""

from __future__ import annotations

from fastapi import Request, Response

from rekindle.config import Settings
from rekindle.errors import Forbidden

COOKIE_NAME = "rekindle_refresh"
COOKIE_PATH = "/api/v1/auth"
CSRF_HEADER = "X-Rekindle-CSRF"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _secure(request: Request) -> bool:
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _LOOPBACK)


def set_refresh_cookie(
    response: Response, request: Request, token: str, settings: Settings
) -> None:
    """Set the session's refresh cookie (`token`) on `response`, for `SESSION_TTL_DAYS`."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.session_ttl_days * 24 * 3600,
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, request: Request) -> None:
    """Expire the refresh cookie in the browser."""
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="strict"
    )


def require_csrf_header(request: Request) -> None:
    """Refuse a cookie-authenticated request without `X-Rekindle-CSRF: 1`. A page on another site
    cannot add a custom header to a cross-site request without a CORS preflight, which this API
    does not grant it, so the header proves the request came from a page of this origin (OWASP
    CSRF cheat sheet: custom request headers). Raises Forbidden (`csrf_header_missing`)."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise Forbidden(
            f"This request needs the header {CSRF_HEADER}: 1.", code="csrf_header_missing"
        )
