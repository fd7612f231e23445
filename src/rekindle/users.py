"""Users: created on first sight of a valid token."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.credits.ledger import grant_signup_credits
from rekindle.db import utcnow
from rekindle.models import User


def ensure_user(session: Session, subject: str, email: str | None, settings: Settings) -> bool:
    """Create the user `subject` unless it exists (race-free: INSERT ... ON CONFLICT DO NOTHING).

    Returns True when this call created it, and then grants the signup credits (`FREE_CREDITS`,
    once per identity). A changed email in the token is recorded.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(User)
        .values(id=subject, email=email, credit_balance=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    created = bool(result.rowcount)  # type: ignore[attr-defined]
    if created:
        grant_signup_credits(session, subject, settings.free_credits)
    if not created and email:
        session.execute(
            update(User)
            .where(User.id == subject, User.email.is_distinct_from(email))
            .values(email=email)
        )
    return created
