"""Local accounts: email + password, for the local token issuer (no identity provider configured).

Passwords are hashed with Argon2id (RFC 9106) through argon2-cffi's `PasswordHasher` and its
defaults; the PHC string (`$argon2id$v=19$m=...`) is stored in `users.password_hash`. A new
password must pass zxcvbn's strength estimate (`check_password_strength`), not a length rule. An
account's id is a new UUID string, which becomes the `sub` of the tokens it gets.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from rekindle.config import Settings
from rekindle.errors import BadRequest, Conflict
from rekindle.models import User
from rekindle.users import ensure_user

MIN_PASSWORD_LENGTH = 8
MIN_PASSWORD_SCORE = 3
"""zxcvbn's score (0-4) a password needs: 3 is "safely unguessable: moderate protection from an
offline slow-hash scenario" (Wheeler, "zxcvbn: Low-Budget Password Strength Estimation", USENIX
Security 2016), and the stored hashes are Argon2id."""
MAX_PASSWORD_LENGTH = 1024
ESTIMATED_PREFIX = 72
"""zxcvbn estimates at most this many characters (its own default bound: the matchers are
super-linear); the rest of a longer password only adds strength."""


@lru_cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown, so a miss costs as long as a wrong password.
    return _hasher().hash(uuid.uuid4().hex)


def normalize_email(email: str) -> str:
    """The form emails are stored and compared in: trimmed, lower-case. Raises BadRequest."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise BadRequest(f"{email!r} is not an email address.", code="invalid_email")
    return email


def check_password_strength(password: str, user_inputs: Sequence[str] = ()) -> None:
    """Judge `password` with zxcvbn (dictionaries of common passwords, names and words, keyboard
    patterns, repeats, sequences, dates, l33t), knowing `user_inputs` (the email and its parts),
    which make a password weaker when it contains them. Raises BadRequest (`weak_password`) with
    zxcvbn's warning and suggestions when the score is below `MIN_PASSWORD_SCORE` or the password
    is shorter than `MIN_PASSWORD_LENGTH` or longer than `MAX_PASSWORD_LENGTH` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", code="weak_password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(
            f"A password may have at most {MAX_PASSWORD_LENGTH} characters.", code="weak_password"
        )
    inputs = [part for value in user_inputs for part in [*re.split(r"[@.+_-]", value), value]]
    result = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=[i for i in inputs if len(i) > 2])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return
    feedback = result["feedback"]
    what = feedback.get("warning") or "This password is too easy to guess."
    advice = " ".join(feedback.get("suggestions") or []) or "Add another word or two."
    raise BadRequest(
        f"{what.rstrip('.')}. {advice}",
        code="weak_password",
        extra={"score": result["score"], "required_score": MIN_PASSWORD_SCORE},
    )


def hash_password(password: str, user_inputs: Sequence[str] = ()) -> str:
    """The Argon2id PHC string of `password`. Raises BadRequest (`weak_password`) when
    `check_password_strength` refuses it."""
    check_password_strength(password, user_inputs)
    return _hasher().hash(password)


def create_local_user(session: Session, email: str, password: str, settings: Settings) -> User:
    """Add a local account (with the signup credits every new user gets); returns it (flushed, not
    committed). Raises BadRequest (`invalid_email`, `weak_password`) or Conflict (`email_taken`)
    when a local account already uses the email."""
    email = normalize_email(email)
    password_hash = hash_password(password, [email])
    taken = session.scalar(
        select(User.id).where(User.email == email, User.password_hash.is_not(None))
    )
    if taken:
        raise Conflict(f"A local account for {email} already exists.", code="email_taken")
    user_id = str(uuid.uuid4())
    ensure_user(session, user_id, email, settings)
    user = session.scalars(select(User).where(User.id == user_id)).one()
    user.password_hash = password_hash
    try:
        session.flush()
    except IntegrityError as exc:  # created concurrently: the partial unique index decides
        raise Conflict(f"A local account for {email} already exists.", code="email_taken") from exc
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """Give the local account `email` a new password. Raises BadRequest, or LookupError when there
    is no such account."""
    user = session.scalars(
        select(User).where(User.email == normalize_email(email), User.password_hash.is_not(None))
    ).one_or_none()
    if user is None:
        raise LookupError(email)
    user.password_hash = hash_password(password, [user.email or ""])
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The local account whose email and password match, or None. Takes as long for an unknown
    email as for a wrong password; upgrades the stored hash when the hasher's parameters changed."""
    try:
        email = normalize_email(email)
    except BadRequest:
        email = ""
    user = None
    if email:
        user = session.scalars(
            select(User).where(User.email == email, User.password_hash.is_not(None))
        ).one_or_none()
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher().check_needs_rehash(stored):
        user.password_hash = _hasher().hash(password)
    return user
