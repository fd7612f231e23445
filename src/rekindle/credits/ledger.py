"""The credit ledger: every grant, charge, refund and purchase is one row with a unique reference.

Functions take a Session and never commit: the caller's transaction holds the balance change and its
ledger row together. Each change is one statement on the user's row,
`UPDATE users SET credit_balance = credit_balance + :delta WHERE id = :id [AND credit_balance >= :price]
RETURNING credit_balance`, then the ledger insert, both inside a SAVEPOINT: if the reference is
already recorded (a replay, or a concurrent twin that committed first), the savepoint is rolled back
and the balance is untouched. The conditional UPDATE takes the row lock (PostgreSQL) or runs under
SQLite's write lock, so concurrent charges can never take the balance below zero; a CHECK
constraint on `users.credit_balance` backs this up.

Lock order: a transaction that touches a photo and its owner locks the user row before the photo
row (see docs/credits.md), so restores, failures and account deletion cannot deadlock each other.

Units: every amount is a whole number of credits.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from rekindle.db import utcnow
from rekindle.errors import NotFound, PaymentRequired
from rekindle.metrics import note_credits
from rekindle.models import CreditLedgerEntry, LedgerKind, User
from rekindle.pagination import newest_first_page


def anonymous_id(user_id: str) -> str:
    """The id that replaces `user_id` on kept rows (ledger, payments) once the account is deleted:
    `deleted:` and 32 hex digits of SHA-256. Deterministic, so a returning identity is recognised
    (its signup credits are not granted twice) without keeping the id itself."""
    return "deleted:" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


def charge_reference(attempt_id: uuid.UUID) -> str:
    """Reference of the charge for one attempt (restore or animation: attempt ids are UUIDs)."""
    return f"charge:{attempt_id}"


def refund_reference(charge_ref: str) -> str:
    """Reference of the refund of the charge `charge_ref`: `charge:X` -> `refund:X`."""
    return "refund:" + charge_ref.removeprefix("charge:")


def signup_reference(user_id: str) -> str:
    return f"signup:{user_id}"


def balance(session: Session, user_id: str) -> int:
    """The user's current balance, credits (read from the database, never from a cached object).
    Raises NotFound when there is no such user."""
    value = session.scalar(select(User.credit_balance).where(User.id == user_id))
    if value is None:
        raise NotFound("No such user.", code="user_not_found")
    return value


def _recorded(session: Session, reference: str) -> bool:
    return (
        session.scalar(select(CreditLedgerEntry.id).where(CreditLedgerEntry.reference == reference))
        is not None
    )


class _NoSuchRow(Exception):
    """The conditional UPDATE matched nothing (no user, or not enough credits)."""


def _apply(
    session: Session,
    user_id: str,
    delta: int,
    *,
    kind: LedgerKind,
    reference: str,
    reason: str,
) -> CreditLedgerEntry | None:
    """Change the balance by `delta` and append the ledger row, atomically (one SAVEPOINT).

    A negative `delta` only applies while the balance covers it. Returns the new row, or None when
    `reference` was already recorded. Raises _NoSuchRow when the UPDATE matched no row.
    """
    if _recorded(session, reference):
        return None
    statement = update(User).where(User.id == user_id)
    if delta < 0:
        statement = statement.where(User.credit_balance >= -delta)
    statement = (
        statement.values(credit_balance=User.credit_balance + delta)
        .returning(User.credit_balance)
        .execution_options(synchronize_session=False)
    )
    try:
        with session.begin_nested():
            after = session.execute(statement).scalar_one_or_none()
            if after is None:
                raise _NoSuchRow
            entry = CreditLedgerEntry(
                user_id=user_id,
                delta=delta,
                balance_after=after,
                kind=kind,
                reference=reference,
                reason=reason[:255],
            )
            session.add(entry)
    except IntegrityError:
        # A concurrent transaction recorded the same reference first; ours was rolled back whole.
        if _recorded(session, reference):
            return None
        raise
    note_credits(session, str(kind), delta)  # counted in metrics once the transaction commits
    # A User loaded earlier in this session would show the old balance: let it reload.
    loaded = session.identity_map.get(identity_key(User, user_id))
    if loaded is not None:
        session.expire(loaded, ["credit_balance"])
    return entry


def grant(
    session: Session,
    user_id: str,
    amount: int,
    *,
    reference: str,
    reason: str,
    kind: LedgerKind = LedgerKind.GRANT,
) -> CreditLedgerEntry | None:
    """Add `amount` (>= 1) credits. Returns the ledger row, or None when `reference` was already
    recorded (nothing changes). Raises NotFound (`user_not_found`), ValueError for `amount` < 1."""
    if amount < 1:
        raise ValueError("a grant adds at least 1 credit")
    try:
        return _apply(session, user_id, amount, kind=kind, reference=reference, reason=reason)
    except _NoSuchRow:
        raise NotFound("No such user.", code="user_not_found") from None


def purchase(
    session: Session, user_id: str, amount: int, *, reference: str, reason: str
) -> CreditLedgerEntry | None:
    """Add `amount` bought credits (kind `purchase`); same contract as `grant`."""
    return grant(
        session, user_id, amount, reference=reference, reason=reason, kind=LedgerKind.PURCHASE
    )


def charge(
    session: Session, user_id: str, amount: int, *, reference: str, reason: str
) -> CreditLedgerEntry | None:
    """Take `amount` (>= 1) credits if the balance covers it: one conditional UPDATE plus the ledger
    row. Returns the row, or None when `reference` was already charged (nothing changes).

    Raises PaymentRequired (402 `insufficient_credits`, with `required` and `balance` in the body)
    when the balance is short, NotFound (`user_not_found`), ValueError for `amount` < 1.
    """
    if amount < 1:
        raise ValueError("a charge takes at least 1 credit")
    try:
        return _apply(
            session, user_id, -amount, kind=LedgerKind.CHARGE, reference=reference, reason=reason
        )
    except _NoSuchRow:
        raise _short_of(session, user_id, amount) from None


def _short_of(session: Session, user_id: str, required: int) -> PaymentRequired:
    """The 402 (`insufficient_credits`) for a charge of `required` credits the balance can't cover,
    with `required` and `balance` in the body."""
    have = balance(session, user_id)
    unit = "credit" if required == 1 else "credits"
    return PaymentRequired(
        f"This costs {required} {unit} and your balance is {have}; buy credits to continue.",
        extra={"required": required, "balance": have},
    )


def charge_many(
    session: Session, user_id: str, amount: int, charges: list[tuple[str, str]]
) -> None:
    """Take `amount` (>= 1) credits for each of `charges` ((reference, reason), references new:
    freshly made ids) if the balance covers them all: ONE conditional UPDATE of the user's row and
    one multi-row ledger INSERT, each row with the balance after it, as if charged one by one
    (a batch restoration, issue 16). Raises PaymentRequired (402 `insufficient_credits`, the
    total in `required`), NotFound (`user_not_found`). A reference already recorded raises
    IntegrityError (the caller's references are new, so it means a bug)."""
    if amount < 1:
        raise ValueError("a charge takes at least 1 credit")
    if not charges:
        return
    total = amount * len(charges)
    after = session.execute(
        update(User)
        .where(User.id == user_id, User.credit_balance >= total)
        .values(credit_balance=User.credit_balance - total)
        .returning(User.credit_balance)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if after is None:
        raise _short_of(session, user_id, total)
    before, now = after + total, utcnow()
    session.execute(
        insert(CreditLedgerEntry.__table__),  # type: ignore[arg-type]
        [
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "delta": -amount,
                "balance_after": before - amount * (i + 1),
                "kind": LedgerKind.CHARGE,
                "reference": reference,
                "reason": reason[:255],
                "created_at": now,
            }
            for i, (reference, reason) in enumerate(charges)
        ],
    )
    note_credits(session, str(LedgerKind.CHARGE), -total)
    loaded = session.identity_map.get(identity_key(User, user_id))
    if loaded is not None:
        session.expire(loaded, ["credit_balance"])


def refund(session: Session, charge_ref: str, *, reason: str) -> CreditLedgerEntry | None:
    """Give back exactly what the charge `charge_ref` took, once (reference `refund:...`).

    Returns the refund row, or None when there is nothing to refund: no such charge (a free
    request, or one accepted before credits existed), already refunded, or the account is gone.
    Refunding the recorded amount (not today's price) keeps price changes harmless.
    """
    original = session.scalars(
        select(CreditLedgerEntry).where(
            CreditLedgerEntry.reference == charge_ref,
            CreditLedgerEntry.kind == LedgerKind.CHARGE,
        )
    ).one_or_none()
    if original is None:
        return None
    try:
        return _apply(
            session,
            original.user_id,
            -original.delta,
            kind=LedgerKind.REFUND,
            reference=refund_reference(charge_ref),
            reason=reason,
        )
    except _NoSuchRow:
        return None  # the account was deleted meanwhile (its ledger rows are anonymised)


def grant_signup_credits(session: Session, user_id: str, amount: int) -> CreditLedgerEntry | None:
    """The new user's free credits (`FREE_CREDITS`), once per identity: not again for an identity
    whose deleted account already had them. Returns the row, or None when nothing was granted."""
    if amount < 1:
        return None
    if _recorded(session, signup_reference(anonymous_id(user_id))):
        return None
    return grant(
        session,
        user_id,
        amount,
        reference=signup_reference(user_id),
        reason="Welcome credits",
    )


def operator_grant(
    session: Session, user_id: str, amount: int, *, reason: str, reference: str | None = None
) -> CreditLedgerEntry | None:
    """`rekindle credits grant`: add `amount` credits by hand. `reference` makes a rerun harmless
    (default: a fresh `admin:{uuid}`). Returns None when the reference was already used.
    Raises NotFound (`user_not_found`), ValueError for `amount` < 1."""
    return grant(
        session,
        user_id,
        amount,
        reference=reference or f"admin:{uuid.uuid4()}",
        reason=reason,
    )


def entries(
    session: Session, user_id: str, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[CreditLedgerEntry], str | None]:
    """A page of the user's ledger, newest first, and the cursor of the next page (or None).
    Raises BadRequest (`invalid_cursor`)."""
    query = select(CreditLedgerEntry).where(CreditLedgerEntry.user_id == user_id)
    return newest_first_page(session, query, CreditLedgerEntry, cursor=cursor, limit=limit)
