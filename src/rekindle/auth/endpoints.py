"""`/api/v1/auth`: what kind of sign-in this server uses, and the local accounts' token endpoint.

`POST /api/v1/auth/token` is the OAuth 2.0 resource owner password credentials grant (RFC 6749
section 4.3): form fields `grant_type=password`, `username` (the email) and `password`; the answer
is RFC 6749 section 5.1's `{"access_token", "token_type": "bearer", "expires_in"}` with
`Cache-Control: no-store`. Errors use RFC 6749 section 5.2's codes (`invalid_request`,
`unsupported_grant_type`, `invalid_grant`) as our error `code`, in our error shape, with status 400.
Signing in also starts a refresh-cookie session (`auth.sessions`, `/refresh`, `/signout`), and
`/signup` + `/verify` let strangers create accounts when `SIGNUP_ENABLED` (`auth.signup`).
These exist only while the local issuer is in use; with Auth0 or Supabase the operator's frontend
signs people in, and they answer 404 `local_accounts_disabled`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from rekindle.api.deps import BaseUrl, RuntimeDep, SessionDep
from rekindle.api.errors import error_body
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import TOO_MANY_REQUESTS_RESPONSE, client_address, limit_signup
from rekindle.api.routing import TransactionalRoute
from rekindle.auth import signin_guard
from rekindle.auth.cookies import (
    COOKIE_NAME,
    clear_refresh_cookie,
    require_csrf_header,
    set_refresh_cookie,
)
from rekindle.auth.local_accounts import authenticate, normalize_email
from rekindle.auth.sessions import (
    invalid_session,
    refresh_session,
    revoke_session,
    start_session,
)
from rekindle.auth.signup import VerifyOutcome, start_signup, verify_signup
from rekindle.errors import BadRequest, NotFound, Unauthorized
from rekindle.models import User

router = APIRouter(route_class=TransactionalRoute, prefix="/auth", tags=["auth"], responses=ERRORS)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field("bearer", description="Always `bearer` (RFC 6750)")
    expires_in: int = Field(description="Seconds until the token expires")


class Prices(BaseModel):
    restore: int = Field(description="Credits one restoration costs")
    animate: int = Field(description="Credits one animation preview costs")
    hd: int = Field(description="Credits the HD animation result costs")


class AuthConfig(BaseModel):
    mode: str = Field(description="`local` (this server's accounts) or `external`")
    provider: str = Field(description="`local`, `auth0`, `supabase` or `jwt`")
    token_url: str | None = Field(description="The password-grant token endpoint, in local mode")
    billing: bool = Field(description="Whether credits can be bought here (Stripe configured)")
    billing_enabled: bool = Field(description="Same as `billing`")
    signup_enabled: bool = Field(description="Whether `POST /auth/signup` creates accounts")
    signup_requires_verification: bool = Field(
        description="Whether a sign-up is activated by an emailed link first"
    )
    session_cookie: bool = Field(
        description="Whether sign-in sets the refresh cookie (`POST /auth/refresh`, local mode)"
    )
    prices: Prices


def _provider(runtime: RuntimeDep) -> str:
    settings, verifier = runtime.settings, runtime.verifier
    if verifier.mode == "local":
        return "local"
    where = f"{verifier.jwks_url or ''} {verifier.issuer or ''}".lower()
    if settings.auth0_domain or "auth0" in where:
        return "auth0"
    if "supabase" in where or verifier.mode == "hs256":
        return "supabase"
    return "jwt"


@router.get("/config", response_model=AuthConfig)
def auth_config(runtime: RuntimeDep) -> AuthConfig:
    """How people sign in here (no token needed): the built-in page shows a sign-in form in local
    mode, and explains that the operator's frontend signs people in otherwise."""
    settings = runtime.settings
    local = runtime.verifier.mode == "local"
    billing = bool(getattr(settings, "stripe_secret_key", None))
    return AuthConfig(
        mode="local" if local else "external",
        provider=_provider(runtime),
        token_url="/api/v1/auth/token" if local else None,
        billing=billing,
        billing_enabled=billing,
        signup_enabled=local and settings.signup_enabled,
        signup_requires_verification=bool(settings.smtp_url),
        session_cookie=local,
        prices=Prices(
            restore=settings.price_restore, animate=settings.price_animation, hd=settings.price_hd
        ),
    )


@router.post("/token", response_model=TokenResponse, responses={429: TOO_MANY_REQUESTS_RESPONSE})
def issue_token(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    grant_type: Annotated[str | None, Form()] = None,
    username: Annotated[str | None, Form(description="The account's email")] = None,
    password: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    """Trade a local account's email and password for a bearer token (RFC 6749 section 4.3),
    valid `SESSION_ACCESS_TOKEN_TTL_SECONDS`, and start a session: the HttpOnly refresh cookie
    that `/auth/refresh` trades for the next token (docs/web.md, Sessions).

    400 `invalid_request` (a field missing), `unsupported_grant_type` (not `password`),
    `invalid_grant` (wrong email or password); 404 `local_accounts_disabled` when an identity
    provider is configured; 429 `rate_limited` (with `Retry-After`) past
    `RATE_LIMIT_SIGNIN_PER_MINUTE` failed attempts for one email from one address, four times that
    from one address, or sooner than the delay a streak of failures from the address imposes."""
    _local_only(runtime)
    if not grant_type or not username or not password:
        raise BadRequest(
            "grant_type, username and password are required form fields.", code="invalid_request"
        )
    if grant_type != "password":
        raise BadRequest("Only the password grant is supported.", code="unsupported_grant_type")
    # Failures are counted per (email, address) and per address, never per email alone: a
    # stranger's wrong guesses cannot lock the owner out (rekindle.auth.signin_guard).
    email, address = username.strip().lower(), client_address(request, runtime.settings)
    signin_guard.before_attempt(runtime.limiter, runtime.settings, email, address)
    user = authenticate(session, username, password)
    if user is None:
        signin_guard.record_failure(runtime.limiter, runtime.settings, email, address)
        raise BadRequest("The email or password is not correct.", code="invalid_grant")
    return _signed_in(request, response, runtime, session, user.id, user.email)


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def _access_token(runtime: RuntimeDep, user_id: str, email: str | None, sid: str) -> TokenResponse:
    ttl = runtime.settings.session_access_token_ttl_seconds
    return TokenResponse(
        access_token=runtime.verifier.issue_local(user_id, email, ttl, session_id=sid),
        token_type="bearer",
        expires_in=ttl,
    )


def _signed_in(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    user_id: str,
    email: str | None,
) -> TokenResponse:
    """Start a session for the user: set its refresh cookie on `response` and return a
    short-lived access token bound to it."""
    row, token = start_session(session, user_id, runtime.settings)
    set_refresh_cookie(response, request, token, runtime.settings)
    _no_store(response)
    return _access_token(runtime, user_id, email, str(row.id))


def _local_only(runtime: RuntimeDep) -> None:
    if runtime.verifier.mode != "local":
        raise NotFound(
            "Sign-in is handled by the identity provider, not by Rekindle.",
            code="local_accounts_disabled",
        )


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={401: {"description": "`session_invalid`: no usable session cookie"}},
)
def refresh(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    refresh_cookie: Annotated[str | None, Cookie(alias=COOKIE_NAME)] = None,
) -> TokenResponse | JSONResponse:
    """Trade the HttpOnly refresh cookie for a fresh access token, and rotate the cookie.

    Needs the header `X-Rekindle-CSRF: 1` (403 `csrf_header_missing`). 401 `session_invalid`
    (the cookie is cleared) when there is no cookie, or its session is unknown, expired or
    revoked; a rotated-out cookie presented after 60 s revokes its session."""
    _local_only(runtime)
    require_csrf_header(request)
    try:
        if not refresh_cookie:
            raise invalid_session()
        refreshed = refresh_session(session, refresh_cookie, runtime.settings)
        if refreshed.reused:
            session.commit()  # keep the revocation: the request itself is refused
            raise invalid_session()
    except Unauthorized as exc:
        failed = JSONResponse(error_body(exc.code, exc.message), exc.status)
        clear_refresh_cookie(failed, request)
        return failed
    user = session.get(User, refreshed.user_id)
    if user is None:
        raise invalid_session()
    if refreshed.token:
        set_refresh_cookie(response, request, refreshed.token, runtime.settings)
    _no_store(response)
    return _access_token(runtime, user.id, user.email, str(refreshed.session_id))


@router.post("/signout", status_code=204)
def signout(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    refresh_cookie: Annotated[str | None, Cookie(alias=COOKIE_NAME)] = None,
) -> Response:
    """End the session of the refresh cookie: revoked server-side (its access tokens stop
    working at once) and the cookie cleared. 204 also when there was no session. Needs the
    header `X-Rekindle-CSRF: 1` (403 `csrf_header_missing`)."""
    _local_only(runtime)
    require_csrf_header(request)
    if refresh_cookie:
        revoke_session(session, refresh_cookie)
    done = Response(status_code=204)
    clear_refresh_cookie(done, request)
    return done


class SignupRequest(BaseModel):
    email: str = Field(max_length=320, description="The account's email address")
    password: str = Field(max_length=1024)


class SignupResponse(BaseModel):
    status: str = Field(description="`verification_sent` (a link was emailed) or `active`")
    access_token: str | None = Field(None, description="When `active`: a signed-in token")
    token_type: str | None = None
    expires_in: int | None = None


@router.post(
    "/signup",
    status_code=201,
    response_model=SignupResponse,
    response_model_exclude_none=True,
    responses={429: TOO_MANY_REQUESTS_RESPONSE},
)
def signup(
    body: SignupRequest,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    base_url: BaseUrl,
) -> SignupResponse:
    """Create a local account (when `SIGNUP_ENABLED`).

    With `SMTP_URL`: emails a verification link and answers `verification_sent` (also for an
    email that already has an account, which gets a notice instead). Without: the account is
    active at once, signed in (refresh cookie and an access token). 400 `invalid_email`,
    `weak_password`; 404 `signup_disabled`, `local_accounts_disabled`; 409 `email_taken`
    (without SMTP only); 429 `rate_limited` (per address and per email, hourly); 503
    `email_unavailable` (nothing was created)."""
    _local_only(runtime)
    settings = runtime.settings
    if not settings.signup_enabled:
        raise NotFound("Sign-up is not enabled on this server.", code="signup_disabled")
    email = normalize_email(body.email)
    limit_signup(runtime.limiter, settings, email, client_address(request, settings))
    verify_url = f"{base_url}/api/v1/auth/verify"
    status, user = start_signup(session, settings, email, body.password, verify_url)
    if user is None:
        return SignupResponse(status=status)
    token = _signed_in(request, response, runtime, session, user.id, user.email)
    return SignupResponse(status=status, **token.model_dump())


# A link for browsers (it only redirects), not an API operation: kept out of the OpenAPI schema.
@router.get("/verify", response_class=RedirectResponse, status_code=303, include_in_schema=False)
def verify(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> RedirectResponse:
    """The emailed link: activate the account, set the refresh cookie, and send the browser to
    `/?verified=1`. An unknown or expired link goes to `/?verified=0&reason=invalid|expired|
    email_taken`; a link opened a second time to `/?verified=1` (without signing in)."""
    _local_only(runtime)
    result = verify_signup(session, runtime.settings, token) if token else None
    outcome = result.outcome if result else VerifyOutcome.INVALID
    if outcome in (VerifyOutcome.ACTIVATED, VerifyOutcome.ALREADY_USED):
        done = RedirectResponse("/?verified=1", status_code=303)
        if result and result.user is not None:
            _row, cookie = start_session(session, result.user.id, runtime.settings)
            set_refresh_cookie(done, request, cookie, runtime.settings)
    else:
        done = RedirectResponse(f"/?verified=0&reason={outcome.value}", status_code=303)
    _no_store(done)
    return done
