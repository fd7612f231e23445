"""Drop rows of issue 15's tables that can no longer do anything: ended sessions, old pending
sign-ups and long-ended share links. Run by the sweep (`rekindle worker --beat`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from rekindle.db import utcnow
from rekindle.models import AuthSession, PendingSignup, ShareLink

KEEP_ENDED = timedelta(days=7)
"""How long ended rows stay (a second click on a used link still reads "verified"; an owner may
ask why a link stopped)."""


def purge_ended(session: Session) -> int:
    """Delete sessions, pending sign-ups and share links that ended (expired or revoked) more than
    `KEEP_ENDED` ago; returns how many rows went. The caller commits."""
    cutoff = utcnow() - KEEP_ENDED
    removed = 0
    for statement in (
        delete(AuthSession).where(
            or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff)
        ),
        delete(PendingSignup).where(PendingSignup.expires_at < cutoff),
        delete(ShareLink).where(or_(ShareLink.expires_at < cutoff, ShareLink.revoked_at < cutoff)),
    ):
        removed += session.execute(statement.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return removed
