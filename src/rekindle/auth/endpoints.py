"""`/api/v1/auth`: what kind of sign-in this server uses, and the local accounts' token endpoint.

`POST /api/v1/auth/token` is the OAuth 2.0 resource owner password credentials grant (RFC 6749
section 4.3): form fields `grant_type=password`, `username` (the email) and `password`; the answer
is RFC 6749 section 5.1's `{"access_token", "token_type": "bearer", "expires_in"}` with
`Cache-Control: no-store`. Errors use RFC 6749 section 5.2's codes (`invalid_request`,
`unsupported_grant_type`, `invalid_grant`) as our error `code`, in our error shape, with status 400.
It exists only while the local issuer is in use; with Auth0 or Supabase the operator's own frontend
signs people in, and the endpoint answers 404 `local_accounts_disabled`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, Field

from rekindle.api.deps import RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import TOO_MANY_REQUESTS_RESPONSE, client_address
from rekindle.api.routing import TransactionalRoute
from rekindle.auth import signin_guard
from rekindle.auth.local_accounts import authenticate
from rekindle.errors import BadRequest, NotFound

router = APIRouter(route_class=TransactionalRoute, prefix="/auth", tags=["auth"], responses=ERRORS)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field("bearer", description="Always `bearer` (RFC 6750)")
    expires_in: int = Field(description="Seconds until the token expires")


class AuthConfig(BaseModel):
    mode: str = Field(description="`local` (this server's accounts) or `external`")
    provider: str = Field(description="`local`, `auth0`, `supabase` or `jwt`")
    token_url: str | None = Field(description="The password-grant token endpoint, in local mode")
    billing: bool = Field(description="Whether credits can be bought here (Stripe configured)")


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
    local = runtime.verifier.mode == "local"
    billing = bool(getattr(runtime.settings, "stripe_secret_key", None))
    return AuthConfig(
        mode="local" if local else "external",
        provider=_provider(runtime),
        token_url="/api/v1/auth/token" if local else None,
        billing=billing,
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
    """Trade a local account's email and password for a bearer token (RFC 6749 section 4.3).

    400 `invalid_request` (a field missing), `unsupported_grant_type` (not `password`),
    `invalid_grant` (wrong email or password); 404 `local_accounts_disabled` when an identity
    provider is configured; 429 `rate_limited` (with `Retry-After`) past
    `RATE_LIMIT_SIGNIN_PER_MINUTE` failed attempts for one email from one address, four times that
    from one address, or sooner than the delay a streak of failures from the address imposes."""
    verifier = runtime.verifier
    if verifier.mode != "local":
        raise NotFound(
            "Sign-in is handled by the identity provider, not by Rekindle.",
            code="local_accounts_disabled",
        )
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
    ttl = runtime.settings.local_token_ttl_seconds
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=verifier.issue_local(user.id, user.email, ttl),
        token_type="bearer",
        expires_in=ttl,
    )
