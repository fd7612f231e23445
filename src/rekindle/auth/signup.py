"""Self-service sign-up for local accounts (`SIGNUP_ENABLED`), verified by an emailed link.

With `SMTP_URL` set, `start_signup` keeps a `pending_signups` row (email, Argon2id hash of the
password, SHA-256 of a 256-bit link token) and emails the link; no account exists until
`verify_signup` is called with the token, so an address nobody controls never holds an account.
Without SMTP (and `SIGNUP_REQUIRE_VERIFICATION=false`, which the settings require then) the
account is active at once. Passwords are checked and hashed by `local_accounts.hash_password`,
the same rules as `rekindle users create`. New accounts get `SIGNUP_CREDITS` (default
`FREE_CREDITS`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rekindle.auth.local_accounts import create_local_user, hash_password, normalize_email
from rekindle.auth.mailer import send_mail
from rekindle.auth.sessions import new_token, token_hash
from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.models import PendingSignup, User
from rekindle.users import ensure_user


class SignupStatus(enum.StrEnum):
    VERIFICATION_SENT = "verification_sent"
    ACTIVE = "active"


class VerifyOutcome(enum.StrEnum):
    ACTIVATED = "activated"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    INVALID = "invalid"
    EMAIL_TAKEN = "email_taken"


@dataclass(frozen=True)
class Verified:
    outcome: VerifyOutcome
    user: User | None = None


def signup_settings(settings: Settings) -> Settings:
    """`settings` with `FREE_CREDITS` replaced by `SIGNUP_CREDITS` (when set), for `ensure_user`."""
    if settings.signup_credits is None:
        return settings
    return settings.model_copy(update={"free_credits": settings.signup_credits})


def _account_exists(session: Session, email: str) -> bool:
    found = session.scalar(
        select(User.id).where(User.email == email, User.password_hash.is_not(None))
    )
    return found is not None


def start_signup(
    session: Session, settings: Settings, email: str, password: str, verify_url: str
) -> tuple[SignupStatus, User | None]:
    """Begin a sign-up. Returns (status, the new active account or None).

    With SMTP: adds a pending sign-up and emails `verify_url?token=...` (status
    `verification_sent`); an address that already has an account gets a notice instead, with the
    same answer, so sign-up does not reveal who has an account. Without SMTP: creates the account
    (status `active`). Raises BadRequest (`invalid_email`, `weak_password`), Conflict
    (`email_taken`, only without SMTP) or ServiceUnavailable (`email_unavailable`: nothing kept,
    the caller's transaction is rolled back)."""
    email = normalize_email(email)
    if not settings.smtp_url:
        user = create_local_user(session, email, password, signup_settings(settings))
        return SignupStatus.ACTIVE, user
    password_hash = hash_password(password)
    if _account_exists(session, email):
        send_mail(
            settings,
            email,
            "Your Rekindle account",
            "Someone (perhaps you) tried to create a Rekindle account with this address, which "
            "already has one. Sign in with your password instead. If it was not you, you can "
            "ignore this message.\n",
        )
        return SignupStatus.VERIFICATION_SENT, None
    token, hashed = new_token()
    ttl = timedelta(hours=settings.signup_verification_ttl_hours)
    session.add(
        PendingSignup(
            email=email,
            password_hash=password_hash,
            token_hash=hashed,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    hours = settings.signup_verification_ttl_hours
    send_mail(
        settings,
        email,
        "Confirm your Rekindle account",
        "Open this link to confirm your email address and start using Rekindle:\n\n"
        f"{verify_url}?token={token}\n\n"
        f"The link works for {hours} hours. If you did not sign up, ignore this message: "
        "no account is created.\n",
    )
    return SignupStatus.VERIFICATION_SENT, None


def verify_signup(session: Session, settings: Settings, token: str) -> Verified:
    """Activate the pending sign-up whose link token is `token`: create the account with the
    password given at sign-up and mark every pending sign-up of that email used. A link opened
    twice (or by two clients at once) activates once; the conditional UPDATE decides."""
    pending = session.scalars(
        select(PendingSignup).where(PendingSignup.token_hash == token_hash(token))
    ).first()
    if pending is None:
        return Verified(VerifyOutcome.INVALID)
    if pending.used_at is not None:
        return Verified(VerifyOutcome.ALREADY_USED)
    now = utcnow()
    if pending.expires_at <= now:
        return Verified(VerifyOutcome.EXPIRED)
    claimed = session.execute(
        update(PendingSignup)
        .where(PendingSignup.id == pending.id, PendingSignup.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return Verified(VerifyOutcome.ALREADY_USED)
    if _account_exists(session, pending.email):
        return Verified(VerifyOutcome.EMAIL_TAKEN)
    session.execute(
        update(PendingSignup)
        .where(PendingSignup.email == pending.email, PendingSignup.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user_id = str(uuid.uuid4())
    ensure_user(session, user_id, pending.email, signup_settings(settings))
    user = session.scalars(select(User).where(User.id == user_id)).one()
    user.password_hash = pending.password_hash
    try:
        session.flush()
    except IntegrityError:  # an account for the email was created meanwhile
        session.rollback()  # the failed statement ended the transaction (PostgreSQL)
        return Verified(VerifyOutcome.EMAIL_TAKEN)
    return Verified(VerifyOutcome.ACTIVATED, user)
