"""Stripe payments: Checkout Sessions for credit packs, and the webhook that grants them.

Sources followed:
- Checkout Session create: https://docs.stripe.com/api/checkout/sessions/create
  (`mode=payment`, `line_items[0][price]`, `line_items[0][quantity]`, `success_url`, `cancel_url`,
  `client_reference_id`, `metadata`); the session's `url` is where the buyer pays.
- Fulfilment: https://docs.stripe.com/checkout/fulfillment: grant on `checkout.session.completed`
  when `payment_status` is `paid`, and on `checkout.session.async_payment_succeeded` for delayed
  payment methods; events may arrive more than once and out of order, so fulfilment is idempotent.
- Signatures: https://docs.stripe.com/webhooks#verify-events: the `Stripe-Signature` header is
  `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret>`, checked by
  `stripe.Webhook.construct_event` with its default tolerance of 300 seconds.
- Errors: https://docs.stripe.com/api/errors (`{"error": {"type", "code", "message", "param"}}`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import stripe
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rekindle.config import CreditPack, Settings
from rekindle.credits import ledger
from rekindle.credits.errors import (
    BillingNotConfigured,
    InvalidPayload,
    InvalidSignature,
    PaymentProviderError,
    UnknownPack,
)
from rekindle.models import PaymentEvent, User

log = logging.getLogger(__name__)

GRANTING_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


@dataclass(frozen=True)
class Checkout:
    session_id: str
    url: str
    pack: str
    credits: int


def checkout_enabled(settings: Settings) -> bool:
    return bool(settings.stripe_secret_key and settings.credit_packs)


@lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    """One Stripe client per (key, API base), reused across requests (it keeps its connections)."""
    addresses: dict[str, str] = {"api": api_base.rstrip("/")} if api_base else {}
    return stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=2)  # type: ignore[arg-type]


def find_pack(settings: Settings, pack: str) -> CreditPack:
    """The configured pack `pack`. Raises UnknownPack (400 `unknown_pack`)."""
    found = settings.credit_packs.get(pack)
    if found is None:
        names = ", ".join(sorted(settings.credit_packs)) or "none"
        raise UnknownPack(f"No credit pack {pack!r}; choose one of: {names}.")
    return found


def create_checkout(settings: Settings, user: User, pack_name: str, origin: str) -> Checkout:
    """Create a Stripe Checkout Session (mode `payment`) for the pack `pack_name`, bought by `user`.

    The session carries the buyer and the credits in `metadata` (`user_id`, `pack`, `credits`) and
    `client_reference_id`, which the webhook reads back. `origin` is this API's public origin, for
    the default success and cancel URLs. Raises BillingNotConfigured (404), UnknownPack (400),
    PaymentProviderError (502: Stripe refused, e.g. an unknown price id, or is unreachable).
    """
    if not checkout_enabled(settings):
        raise BillingNotConfigured()
    pack = find_pack(settings, pack_name)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{"price": pack.price_id, "quantity": 1}],
        "success_url": settings.checkout_success_url
        or f"{origin}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": settings.checkout_cancel_url or f"{origin}/?checkout=cancelled",
        "client_reference_id": user.id[:200],
        "metadata": {"user_id": user.id, "pack": pack_name, "credits": str(pack.credits)},
    }
    if user.email:
        params["customer_email"] = user.email
    assert settings.stripe_secret_key
    client = _client(settings.stripe_secret_key, settings.stripe_api_base)
    try:
        session = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        log.error("Stripe refused a checkout for pack %s: %s", pack_name, exc.user_message or exc)
        raise PaymentProviderError() from exc
    if not session.url:
        raise PaymentProviderError("The payment provider returned no checkout URL.")
    return Checkout(session_id=session.id, url=session.url, pack=pack_name, credits=pack.credits)


def verify_event(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check the `Stripe-Signature` of a webhook body with the endpoint secret (default tolerance,
    300 s) and return the event as a dict. Raises BillingNotConfigured (404), InvalidSignature
    (400: missing, malformed, wrong or too old), InvalidPayload (400: signed but not an event)."""
    if not settings.stripe_webhook_secret:
        raise BillingNotConfigured()
    try:
        stripe.Webhook.construct_event(payload, signature, settings.stripe_webhook_secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(f"Invalid Stripe-Signature: {exc.user_message or exc}.") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # The signature matched (it is checked first), but the body is not a JSON event.
        raise InvalidPayload() from exc
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidPayload()
    return event


MAX_PURCHASE_CREDITS = 1_000_000
"""The most credits one payment may grant; a signed event claiming more is malformed (the
balance column is a 32-bit integer, and no pack sells that many)."""
MAX_AMOUNT_TOTAL = 2**31 - 1
"""`amount_total` above this does not fit the column: the event is malformed."""


class MalformedEvent(Exception):
    """A correctly signed event whose shape is not Stripe's documented one (`reason` says how)."""


@dataclass(frozen=True)
class Purchase:
    """What a granting Checkout Session event claims, every field checked for type and range."""

    session_id: str
    user_id: str
    pack: str | None
    credits: int
    amount_total: int | None
    currency: str | None


def _text(value: Any, name: str, *, limit: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MalformedEvent(f"{name} must be a string of 1 to {limit} characters")
    return value


def _object_of(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event's type and `data.object`. Raises MalformedEvent: every Stripe event has a string
    `type` and an object `data.object` (https://docs.stripe.com/api/events/object)."""
    event_type = event.get("type")
    if not isinstance(event_type, str) or len(event_type) > 64:
        raise MalformedEvent("type must be a string")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("data.object must be an object")
    return event_type, obj


def _purchase(settings: Settings, obj: dict[str, Any]) -> Purchase | None:
    """The purchase a paid Checkout Session records, or None when it is not one of ours (no buyer
    or no credits). Raises MalformedEvent for fields of the wrong type or out of range."""
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise MalformedEvent("data.object.metadata must be an object")
    session_id = _text(obj.get("id"), "data.object.id", limit=255, required=True)
    user_id = _text(
        metadata.get("user_id") or obj.get("client_reference_id"), "the buyer", limit=255
    )
    pack = _text(metadata.get("pack"), "metadata.pack", limit=64)
    credits = _credits_of(settings, metadata)
    amount = obj.get("amount_total")
    if amount is not None and (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or not 0 <= amount <= MAX_AMOUNT_TOTAL
    ):
        raise MalformedEvent("data.object.amount_total must be a non-negative integer")
    currency = obj.get("currency")
    if currency is not None and (not isinstance(currency, str) or len(currency) != 3):
        raise MalformedEvent("data.object.currency must be a three-letter code")
    if not user_id or credits < 1:
        return None
    assert session_id is not None
    return Purchase(session_id, user_id, pack, credits, amount, currency)


def handle_event(session: Session, settings: Settings, event: dict[str, Any]) -> str:
    """Fulfil a verified event. Returns `granted`, `duplicate`, `ignored` or `malformed`.

    Grants the pack's credits (ledger kind `purchase`, reference `stripe:{session id}`) for
    `checkout.session.completed` with `payment_status == "paid"` and for
    `checkout.session.async_payment_succeeded`; every other event is ignored. Deduplicated three
    ways: the event id and the session id are unique in `payment_events`, and the ledger reference
    is unique, so replays and concurrent deliveries grant once.

    A signed event whose fields have the wrong type or range (`data` or `metadata` not an object, a
    credit count above `MAX_PURCHASE_CREDITS`, ...) grants nothing: it is recorded in
    `payment_events` with outcome `malformed` (0 credits, no session, so a correct delivery of
    that session can still grant) and `malformed` is returned; the caller commits that record and
    answers 400.
    """
    event_id = str(event["id"])[:255]
    try:
        event_type, obj = _object_of(event)
        if event_type not in GRANTING_EVENTS or obj.get("object") != "checkout.session":
            return "ignored"
        if event_type == "checkout.session.completed" and obj.get("payment_status") != "paid":
            return "ignored"  # a delayed payment method: `async_payment_succeeded` follows
        purchase = _purchase(settings, obj)
    except MalformedEvent as exc:
        log.error("Stripe event %s is malformed (%s); nothing granted", event_id, exc)
        _record(
            session,
            PaymentEvent(
                provider="stripe",
                event_id=event_id,
                event_type=str(event.get("type"))[:64],
                credits=0,
                outcome="malformed",
            ),
        )
        return "malformed"
    if purchase is None:
        log.warning("Stripe event %s is not a Rekindle credit purchase; ignored", event_id)
        return "ignored"
    known = select(PaymentEvent.id).where(
        or_(PaymentEvent.event_id == event_id, PaymentEvent.session_id == purchase.session_id)
    )
    if session.scalar(known) is not None:
        return "duplicate"
    exists = session.scalar(select(User.id).where(User.id == purchase.user_id)) is not None
    record = PaymentEvent(
        provider="stripe",
        event_id=event_id,
        event_type=event_type,
        session_id=purchase.session_id,
        user_id=purchase.user_id,
        pack=purchase.pack,
        credits=purchase.credits,
        amount_total=purchase.amount_total,
        currency=purchase.currency,
        outcome="granted" if exists else "no_user",
    )
    if not _record(session, record):
        return "duplicate"  # a concurrent delivery recorded it first
    if not exists:
        log.error(
            "Stripe session %s paid for %d credits for a user that no longer exists; "
            "refund it from the Stripe dashboard",
            purchase.session_id,
            purchase.credits,
        )
        return "ignored"
    entry = ledger.purchase(
        session,
        purchase.user_id,
        purchase.credits,
        reference=f"stripe:{purchase.session_id}",
        reason=f"Bought {purchase.credits} credits ({purchase.pack or 'credit pack'})",
    )
    return "granted" if entry is not None else "duplicate"


def _record(session: Session, record: PaymentEvent) -> bool:
    """Add `record` in a savepoint; False when its event (or session) is already recorded."""
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return False
    return True


def _credits_of(settings: Settings, metadata: dict[str, Any]) -> int:
    """Credits the session bought: the amount recorded at checkout (what the buyer was shown),
    else the configured pack's. Raises MalformedEvent for a count that is not a decimal integer
    from 1 to `MAX_PURCHASE_CREDITS`."""
    raw = metadata.get("credits")
    if raw is None:
        pack = settings.credit_packs.get(str(metadata.get("pack")))
        return pack.credits if pack else 0
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 7:
        raise MalformedEvent("metadata.credits must be a whole number of credits")
    credits = int(text)
    if not 1 <= credits <= MAX_PURCHASE_CREDITS:
        raise MalformedEvent(f"metadata.credits must be from 1 to {MAX_PURCHASE_CREDITS}")
    return credits
