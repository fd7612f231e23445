"""Users: created on first sight of a valid token, never again once deleted."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.credits.ledger import grant_signup_credits
from rekindle.db import utcnow
from rekindle.errors import Unauthorized
from rekindle.models import DeletedSubject, User
from rekindle.models.deleted_subject import subject_hash


def account_deleted() -> Unauthorized:
    """The 401 a deleted account's tokens get (`account_deleted`)."""
    return Unauthorized(
        "This account was deleted; its tokens no longer work.", code="account_deleted"
    )


def is_deleted(session: Session, subject: str) -> bool:
    """Whether the account of `subject` was deleted (its tombstone exists)."""
    found = session.scalar(
        select(DeletedSubject.subject_sha256).where(
            DeletedSubject.subject_sha256 == subject_hash(subject)
        )
    )
    return found is not None


def ensure_user(session: Session, subject: str, email: str | None, settings: Settings) -> bool:
    """Create the user `subject` unless it exists (race-free: INSERT ... ON CONFLICT DO NOTHING).

    Returns True when this call created it, and then grants the signup credits (`FREE_CREDITS`,
    once per identity). A changed email in the token is recorded. Raises Unauthorized
    (`account_deleted`) for a subject whose account was deleted: its tokens (local or from the
    identity provider) stop working, and the account is not created again.
    """
    if is_deleted(session, subject):
        raise account_deleted()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(User)
        .values(id=subject, email=email, credit_balance=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    created = bool(result.rowcount)  # type: ignore[attr-defined]
    if created:
        # Deleted while this insert waited for the deleting transaction's row lock (PostgreSQL,
        # READ COMMITTED: this statement sees what that transaction committed). The caller rolls
        # the insert back with the error.
        if is_deleted(session, subject):
            raise account_deleted()
        grant_signup_credits(session, subject, settings.free_credits)
    if not created and email:
        session.execute(
            update(User)
            .where(User.id == subject, User.email.is_distinct_from(email))
            .values(email=email)
        )
    return created
