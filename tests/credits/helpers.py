"""Helpers shared by the credits tests: small images, balances, ledger rows, Stripe signatures."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import uuid
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

from rekindle.credits import ledger
from rekindle.db import session_scope
from rekindle.models import CreditLedgerEntry, PaymentEvent
from tests.support.stack import Stack

STRIPE_KEY = "sk_test_rekindle_fake"
WEBHOOK_SECRET = "whsec_test_" + "5f" * 16
PACKS = {
    "starter": {"price_id": "price_starter", "credits": 50, "name": "Starter"},
    "gone": {"price_id": "price_gone", "credits": 5},
}


def small_jpeg(seed: int = 0, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small photo-like JPEG (noise over a gradient), different for each seed."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(40, 200, size[0], dtype=np.float32)[None, :, None]
    pixels = np.clip(gradient + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=85)
    return out.getvalue()


def upload(stack: Stack, user: str, seed: int = 0) -> dict[str, Any]:
    response = stack.client.post(
        "/api/v1/photos",
        headers=stack.auth(user),
        files={"file": (f"photo-{seed}.jpg", small_jpeg(seed), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def me(stack: Stack, user: str) -> dict[str, Any]:
    response = stack.client.get("/api/v1/me", headers=stack.auth(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def balance(stack: Stack, user: str) -> int:
    """The balance as stored (read from the database, not through the API)."""
    with stack.runtime.sessions() as session:
        return ledger.balance(session, user)


def rows(stack: Stack, user: str) -> list[CreditLedgerEntry]:
    """The user's ledger rows, oldest first."""
    with stack.runtime.sessions() as session:
        return list(
            session.scalars(
                select(CreditLedgerEntry)
                .where(CreditLedgerEntry.user_id == user)
                .order_by(CreditLedgerEntry.created_at, CreditLedgerEntry.id)
            )
        )


def payment_events(stack: Stack) -> list[PaymentEvent]:
    with stack.runtime.sessions() as session:
        return list(session.scalars(select(PaymentEvent)))


def new_user(stack: Stack, prefix: str, credits: int | None = None) -> str:
    """A user created through the API (with the signup credits), then brought to `credits`."""
    user = f"{prefix}-{stack.kind}-{uuid.uuid4().hex[:8]}"
    start = me(stack, user)["credit_balance"]
    if credits is not None and credits != start:
        with session_scope(stack.runtime.sessions) as session:
            if credits < start:
                ledger.charge(
                    session, user, start - credits, reference=f"test:{user}", reason="test setup"
                )
            else:
                ledger.grant(
                    session, user, credits - start, reference=f"test:{user}", reason="test setup"
                )
    assert balance(stack, user) == (credits if credits is not None else start)
    return user


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header computed by the documented scheme
    (https://docs.stripe.com/webhooks#verify-manually): `t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>.<raw body>" keyed with the endpoint secret>`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def checkout_event(
    user: str,
    *,
    session_id: str | None = None,
    event_id: str | None = None,
    event_type: str = "checkout.session.completed",
    payment_status: str = "paid",
    pack: str = "starter",
    credits: int = 50,
) -> bytes:
    """The JSON body of a Checkout Session event, shaped like Stripe's
    (https://docs.stripe.com/api/events/object, https://docs.stripe.com/api/checkout/sessions/object)."""
    session_id = session_id or "cs_test_" + uuid.uuid4().hex
    event = {
        "id": event_id or "evt_" + uuid.uuid4().hex[:24],
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": 900,
                "client_reference_id": user[:200],
                "currency": "usd",
                "customer": "cus_test123",
                "metadata": {"user_id": user, "pack": pack, "credits": str(credits)},
                "mode": "payment",
                "payment_intent": "pi_test123",
                "payment_status": payment_status,
                "status": "complete",
            }
        },
    }
    return json.dumps(event, indent=2).encode()


def post_webhook(stack: Stack, payload: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return stack.client.post("/api/v1/billing/webhook", content=payload, headers=headers)
