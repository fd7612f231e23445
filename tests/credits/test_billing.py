"""Stripe: Checkout against a local server that speaks Stripe's API, and the webhook with
signatures computed here by the documented scheme (https://docs.stripe.com/webhooks)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credits.fake_stripe import FakeStripe
from tests.credits.helpers import (
    STRIPE_KEY,
    balance,
    checkout_event,
    new_user,
    payment_events,
    post_webhook,
    rows,
    sign,
)
from tests.support.stack import Stack, running_stack, stack_settings


def test_checkout_creates_a_session_at_stripe(credits_stack: Stack, stripe_api: FakeStripe) -> None:
    stack = credits_stack
    user = new_user(stack, "buyer")
    before = len(stripe_api.sessions_created())
    response = stack.client.post(
        "/api/v1/billing/checkout", headers=stack.auth(user), json={"pack": "starter"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session_id"].startswith("cs_test_")
    assert body["url"] == f"https://checkout.stripe.com/c/pay/{body['session_id']}"
    assert (body["pack"], body["credits"]) == ("starter", 50)
    sent = stripe_api.requests[-1]
    assert len(stripe_api.sessions_created()) == before + 1
    assert sent["headers"]["Authorization"] == f"Bearer {STRIPE_KEY}"
    form = sent["form"]
    assert form["mode"] == "payment"
    assert (form["line_items[0][price]"], form["line_items[0][quantity]"]) == ("price_starter", "1")
    assert form["client_reference_id"] == user
    assert (form["metadata[user_id]"], form["metadata[pack]"], form["metadata[credits]"]) == (
        user,
        "starter",
        "50",
    )
    assert form["success_url"].startswith(stack.base_url)
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert form["cancel_url"].startswith(stack.base_url)
    assert balance(stack, user) == 10  # nothing is granted before Stripe reports the payment


def test_checkout_errors(credits_stack: Stack, stripe_api: FakeStripe) -> None:
    stack = credits_stack
    user = new_user(stack, "checkout-errors")
    unknown = stack.client.post(
        "/api/v1/billing/checkout", headers=stack.auth(user), json={"pack": "platinum"}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_pack"
    assert "starter" in unknown.json()["error"]["message"]
    # A pack whose price Stripe does not know: Stripe answers 400 resource_missing; we say 502.
    refused = stack.client.post(
        "/api/v1/billing/checkout", headers=stack.auth(user), json={"pack": "gone"}
    )
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "payment_provider_error"
    assert stripe_api.requests[-1]["form"]["line_items[0][price]"] == "price_gone"
    anonymous = stack.client.post("/api/v1/billing/checkout", json={"pack": "starter"})
    assert anonymous.status_code == 401
    packs = stack.client.get("/api/v1/billing/packs", headers=stack.auth(user)).json()
    assert packs["enabled"] is True
    assert {p["id"]: p["credits"] for p in packs["packs"]} == {"starter": 50, "gone": 5}


def test_signed_completed_event_grants_once_however_often_replayed(credits_stack: Stack) -> None:
    """Acceptance 3."""
    stack = credits_stack
    user = new_user(stack, "paid")
    payload = checkout_event(user, credits=50)
    first = post_webhook(stack, payload, sign(payload))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "outcome": "granted"}
    assert balance(stack, user) == 60
    for _ in range(3):  # Stripe retries (a fresh signature each time, as Stripe does)
        again = post_webhook(stack, payload, sign(payload))
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert balance(stack, user) == 60
    purchase = rows(stack, user)[-1]
    assert (purchase.kind, purchase.delta, purchase.balance_after) == ("purchase", 50, 60)
    assert purchase.reference.startswith("stripe:cs_test_")
    recorded = [e for e in payment_events(stack) if e.user_id == user]
    assert len(recorded) == 1 and recorded[0].outcome == "granted"
    assert (recorded[0].amount_total, recorded[0].currency) == (900, "usd")


def test_two_events_for_one_session_grant_once(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "two-events")
    session_id = "cs_test_" + uuid.uuid4().hex
    completed = checkout_event(user, session_id=session_id)
    succeeded = checkout_event(
        user, session_id=session_id, event_type="checkout.session.async_payment_succeeded"
    )
    assert post_webhook(stack, completed, sign(completed)).json()["outcome"] == "granted"
    assert post_webhook(stack, succeeded, sign(succeeded)).json()["outcome"] == "duplicate"
    assert balance(stack, user) == 60


def test_delayed_payment_grants_when_it_succeeds(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "delayed")
    session_id = "cs_test_" + uuid.uuid4().hex
    unpaid = checkout_event(user, session_id=session_id, payment_status="unpaid")
    assert post_webhook(stack, unpaid, sign(unpaid)).json()["outcome"] == "ignored"
    assert balance(stack, user) == 10
    succeeded = checkout_event(
        user, session_id=session_id, event_type="checkout.session.async_payment_succeeded"
    )
    assert post_webhook(stack, succeeded, sign(succeeded)).json()["outcome"] == "granted"
    assert balance(stack, user) == 60


def test_other_events_are_acknowledged_and_ignored(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "other-events")
    for event_type in (
        "payment_intent.succeeded",
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
    ):
        payload = checkout_event(user, event_type=event_type)
        response = post_webhook(stack, payload, sign(payload))
        assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    # A paid session for an account that no longer exists is recorded, and grants nothing.
    ghost = checkout_event(f"ghost-{uuid.uuid4().hex}")
    assert post_webhook(stack, ghost, sign(ghost)).json()["outcome"] == "ignored"
    assert balance(stack, user) == 10


@pytest.mark.parametrize(
    "case", ["tampered body", "wrong secret", "too old", "missing header", "garbage header"]
)
def test_bad_signatures_are_400_and_grant_nothing(credits_stack: Stack, case: str) -> None:
    stack = credits_stack
    user = new_user(stack, f"forger-{case.replace(' ', '-')}")
    payload = checkout_event(user, credits=500)
    signature: str | None
    if case == "tampered body":
        signature = sign(payload)
        payload = payload.replace(b'"credits": "500"', b'"credits": "5000"')
    elif case == "wrong secret":
        signature = sign(payload, secret="whsec_not_the_endpoint_secret")
    elif case == "too old":  # outside the library's default tolerance of 300 s
        signature = sign(payload, timestamp=int(time.time()) - 301)
    elif case == "missing header":
        signature = None
    else:
        signature = "t=abc,v0=zzz"
    response = post_webhook(stack, payload, signature)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_signature"
    assert balance(stack, user) == 10
    assert not [e for e in payment_events(stack) if e.user_id == user]
    # The same body, correctly signed and recent, is accepted (the cases above differ by one thing).
    if case != "tampered body":
        assert post_webhook(stack, payload, sign(payload)).json()["outcome"] == "granted"
        assert balance(stack, user) == 510


def test_signed_but_not_an_event_is_400(credits_stack: Stack) -> None:
    payload = b"[1, 2, 3]"
    response = post_webhook(credits_stack, payload, sign(payload))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded default: no Stripe settings."""
    data_dir: Path = tmp_path_factory.mktemp("no-billing")
    with running_stack(stack_settings("embedded", data_dir), "embedded", worker=False) as stack:
        yield stack


def test_billing_without_stripe_says_so(unconfigured: Stack) -> None:
    stack = unconfigured
    checkout = stack.client.post(
        "/api/v1/billing/checkout", headers=stack.auth("nobilling"), json={"pack": "starter"}
    )
    assert checkout.status_code == 404
    error = checkout.json()["error"]
    assert error["code"] == "billing_not_configured"
    assert "rekindle credits grant" in error["message"]
    payload = checkout_event("nobilling")
    webhook = post_webhook(stack, payload, sign(payload))
    assert webhook.status_code == 404
    assert webhook.json()["error"]["code"] == "billing_not_configured"
    packs = stack.client.get("/api/v1/billing/packs", headers=stack.auth("nobilling")).json()
    assert packs == {"enabled": False, "packs": []}
