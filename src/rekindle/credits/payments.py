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
    the default success and cancel URLs. Raises BillingNotConfigured (503), UnknownPack (400),
    PaymentProviderError (502: Stripe refused, e.g. an unknown price id, or is unreachable).
    """
    if not checkout_enabled(settings):
        raise BillingNotConfigured()
    pack = find_pack(settings, pack_name)
    origin = (settings.public_base_url or origin).rstrip("/")
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
    300 s) and return the event as a dict. Raises BillingNotConfigured (503), InvalidSignature
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


def handle_event(session: Session, settings: Settings, event: dict[str, Any]) -> str:
    """Fulfil a verified event. Returns `granted`, `duplicate` or `ignored`.

    Grants the pack's credits (ledger kind `purchase`, reference `stripe:{session id}`) for
    `checkout.session.completed` with `payment_status == "paid"` and for
    `checkout.session.async_payment_succeeded`; every other event is ignored. Deduplicated three
    ways: the event id and the session id are unique in `payment_events`, and the ledger reference
    is unique, so replays and concurrent deliveries grant once.
    """
    event_type = str(event.get("type", ""))
    obj = (event.get("data") or {}).get("object") or {}
    if event_type not in GRANTING_EVENTS or obj.get("object") != "checkout.session":
        return "ignored"
    if event_type == "checkout.session.completed" and obj.get("payment_status") != "paid":
        return "ignored"  # a delayed payment method: `async_payment_succeeded` follows
    metadata = obj.get("metadata") or {}
    user_id = metadata.get("user_id") or obj.get("client_reference_id")
    session_id = obj.get("id")
    pack = metadata.get("pack")
    credits = _credits_of(settings, metadata)
    if not user_id or not isinstance(session_id, str) or credits < 1:
        log.warning("Stripe event %s is not a Rekindle credit purchase; ignored", event.get("id"))
        return "ignored"
    event_id = str(event["id"])
    known = select(PaymentEvent.id).where(
        or_(PaymentEvent.event_id == event_id, PaymentEvent.session_id == session_id)
    )
    if session.scalar(known) is not None:
        return "duplicate"
    exists = session.scalar(select(User.id).where(User.id == user_id)) is not None
    record = PaymentEvent(
        provider="stripe",
        event_id=event_id,
        event_type=event_type,
        session_id=session_id,
        user_id=user_id,
        pack=pack,
        credits=credits,
        amount_total=obj.get("amount_total"),
        currency=obj.get("currency"),
        outcome="granted" if exists else "no_user",
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return "duplicate"  # a concurrent delivery recorded it first
    if not exists:
        log.error(
            "Stripe session %s paid for %d credits for a user that no longer exists; "
            "refund it from the Stripe dashboard",
            session_id,
            credits,
        )
        return "ignored"
    entry = ledger.purchase(
        session,
        user_id,
        credits,
        reference=f"stripe:{session_id}",
        reason=f"Bought {credits} credits ({pack or 'credit pack'})",
    )
    return "granted" if entry is not None else "duplicate"


def _credits_of(settings: Settings, metadata: dict[str, Any]) -> int:
    """Credits the session bought: the amount recorded at checkout (what the buyer was shown),
    else the configured pack's."""
    try:
        return int(metadata["credits"])
    except (KeyError, TypeError, ValueError):
        pack = settings.credit_packs.get(str(metadata.get("pack")))
        return pack.credits if pack else 0
