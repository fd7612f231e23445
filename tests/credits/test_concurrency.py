"""Many requests at once never lose or double-count a credit: real concurrent HTTP requests
against the API served by uvicorn, on PostgreSQL (row locks) and on SQLite (write lock)."""

from __future__ import annotations

import concurrent.futures
import threading
import uuid

import httpx
from sqlalchemy import func, select

from rekindle.models import CreditLedgerEntry, Photo, PhotoStatus, RestoreAttempt
from tests.credits.helpers import (
    balance,
    checkout_event,
    new_user,
    post_webhook,
    rows,
    sign,
    upload,
)
from tests.support.stack import Stack


def _fire(
    stack: Stack, requests: list[tuple[str, str, dict[str, str], bytes | None]]
) -> list[httpx.Response]:
    """Send every request at the same moment (a barrier releases them together)."""
    start = threading.Barrier(len(requests))

    def send(request: tuple[str, str, dict[str, str], bytes | None]) -> httpx.Response:
        method, url, headers, body = request
        with httpx.Client(base_url=stack.base_url, timeout=120) as client:
            start.wait()
            return client.request(method, url, headers=headers, content=body)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_50_simultaneous_restores_with_10_credits(credits_stack: Stack) -> None:
    """On PostgreSQL and on SQLite: 10 accepted, 40 refused with 402, a balance of exactly 0."""
    _crowd(credits_stack, requests=50, credits=10)


def _crowd(stack: Stack, *, requests: int, credits: int) -> None:
    user = new_user(stack, "crowd", credits=credits)
    photos = [upload(stack, user, seed)["id"] for seed in range(requests)]
    headers = {**stack.auth(user), "Content-Type": "application/json"}
    responses = _fire(
        stack, [("POST", f"/api/v1/photos/{pid}/restore", headers, b"{}") for pid in photos]
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(202) == credits, statuses
    assert statuses.count(402) == requests - credits, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 402} == {
        "insufficient_credits"
    }
    assert balance(stack, user) == 0
    accepted = {r.json()["id"] for r in responses if r.status_code == 202}
    with stack.runtime.sessions() as session:
        attempts = set(
            session.scalars(select(RestoreAttempt.id).join(Photo).where(Photo.owner_id == user))
        )
        assert {str(a) for a in attempts} == accepted
        untouched = session.scalar(
            select(func.count(Photo.id)).where(
                Photo.owner_id == user, Photo.status == PhotoStatus.UPLOADED
            )
        )
        assert untouched >= requests - credits  # the refused ones never left `uploaded`
    charges = [r for r in rows(stack, user) if r.kind == "charge" and r.reason != "test setup"]
    assert sorted(r.balance_after for r in charges) == list(range(credits))  # each credit once
    assert {r.reference for r in charges} == {f"charge:{a}" for a in accepted}
    # Success keeps every charge: once the work is done, the balance is still 0.
    for response in responses:
        if response.status_code == 202:
            stack.wait_for_photo(response.json()["photo_id"], ("ready",), user=user, timeout=120)
    assert balance(stack, user) == 0
    assert not [r for r in rows(stack, user) if r.kind == "refund"]


def test_first_requests_of_a_new_user_grant_once(credits_stack: Stack) -> None:
    stack = credits_stack
    user = f"newcomer-{stack.kind}-{uuid.uuid4().hex[:8]}"
    headers = stack.auth(user)
    responses = _fire(stack, [("GET", "/api/v1/me", headers, None)] * 12)
    assert [r.status_code for r in responses] == [200] * 12
    assert balance(stack, user) == stack.settings.free_credits == 10
    assert [(r.kind, r.delta, r.reference) for r in rows(stack, user)] == [
        ("grant", 10, f"signup:{user}")
    ]


def test_one_event_delivered_many_times_at_once_grants_once(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "replayed", credits=0)
    payload = checkout_event(user, credits=50)
    headers = {"Stripe-Signature": sign(payload), "Content-Type": "application/json"}
    responses = _fire(stack, [("POST", "/api/v1/billing/webhook", headers, payload)] * 10)
    assert [r.status_code for r in responses] == [200] * 10
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate"] * 9 + ["granted"]
    assert balance(stack, user) == 50
    with stack.runtime.sessions() as session:
        purchases = session.scalar(
            select(func.count(CreditLedgerEntry.id)).where(
                CreditLedgerEntry.user_id == user, CreditLedgerEntry.kind == "purchase"
            )
        )
    assert purchases == 1
    assert post_webhook(stack, payload, sign(payload)).json()["outcome"] == "duplicate"
