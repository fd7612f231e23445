"""FastAPI dependencies: the runtime, a request-scoped transaction, and the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from rekindle.auth.sessions import session_is_active
from rekindle.auth.tokens import Identity
from rekindle.db import session_scope
from rekindle.errors import Unauthorized
from rekindle.logcontext import bind
from rekindle.models import User
from rekindle.runtime import Runtime
from rekindle.users import account_deleted, ensure_user, is_deleted


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# Ending a transaction runs on threads of its own. If it shared the endpoints' thread pool, then on
# SQLite (one writer at a time) every pool thread could be waiting for the write lock while the
# request that holds it waits for a thread to commit: a deadlock until the busy timeout.
_TRANSACTION_END = anyio.CapacityLimiter(8)


async def db_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Scoped to the endpoint function so the commit happens before the response is sent."""
    session = runtime.sessions()
    try:
        yield session
        await anyio.to_thread.run_sync(session.commit, limiter=_TRANSACTION_END)
    except BaseException:
        await anyio.to_thread.run_sync(session.rollback, limiter=_TRANSACTION_END)
        raise
    finally:
        await anyio.to_thread.run_sync(session.close, limiter=_TRANSACTION_END)


SessionDep = Annotated[Session, Depends(db_session, scope="function")]

_bearer = HTTPBearer(
    auto_error=False, description="A JWT from the identity provider or local issuer"
)


def ensure_session_active(session: Session, identity: Identity) -> None:
    """Raise Unauthorized when the sign-in session a verified token was issued for has ended:
    `account_deleted` when its account was deleted with it, `session_revoked` otherwise. A valid
    signature is not enough: signing out must end a token before it expires."""
    if identity.session_id and not session_is_active(session, identity.session_id):
        if is_deleted(session, identity.subject):  # the account went with its sessions
            raise account_deleted()
        raise Unauthorized(
            "This sign-in session has ended; please sign in again.", code="session_revoked"
        )


def current_user(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user a valid bearer token speaks for, created on first sight. Raises Unauthorized.

    Uses a short transaction of its own (the returned row is detached, its columns loaded): the
    request's transaction must not begin before the endpoint runs, or on SQLite it would hold the
    write lock while waiting for a thread to run the endpoint in."""
    if credentials is None:
        raise Unauthorized("A bearer token is required (Authorization: Bearer <token>).")
    identity = runtime.verifier.verify(credentials.credentials)
    bind(user_id=identity.subject)  # on every log line of this request (rekindle.logcontext)
    by_id = select(User).where(User.id == identity.subject)
    with session_scope(runtime.sessions) as session:
        ensure_session_active(session, identity)
        # Nearly every request comes from a known user: one SELECT, and the upsert only on first
        # sight or a changed email (issue 16: one statement fewer per request).
        user = session.scalars(by_id).one_or_none()
        if user is not None and (not identity.email or user.email == identity.email):
            return user
        ensure_user(session, identity.subject, identity.email, runtime.settings)
        return session.scalars(by_id.execution_options(populate_existing=True)).one()


CurrentUser = Annotated[User, Depends(current_user)]


def base_url(request: Request, runtime: RuntimeDep) -> str:
    """This API's public origin, without a trailing slash: `PUBLIC_BASE_URL` when set, else the
    origin the client reached (`Host`, which `ALLOWED_HOSTS` should then pin). Every link the API
    hands out is built on it: the local store's signed URLs, share links, export tickets, the
    emailed verification link and Stripe's return URLs."""
    return (runtime.settings.public_base_url or str(request.base_url)).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]
