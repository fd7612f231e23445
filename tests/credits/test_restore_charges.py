"""Restorations cost credits: charged when accepted, kept on success, refunded exactly once on
failure (worker failure, queue down, stuck-attempt sweep); a short balance is a 402 that creates
nothing. On the embedded stack and on PostgreSQL + Redis + S3, with a real worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from rekindle.credits import ledger
from rekindle.db import session_scope, utcnow
from rekindle.errors import ServiceUnavailable
from rekindle.models import AttemptStatus, Photo, RestoreAttempt
from rekindle.photos import service
from rekindle.photos.schemas import RestoreOptions
from rekindle.restoration.outcomes import mark_failed
from rekindle.restoration.runner import dispatch_restore, sweep_stuck_attempts
from rekindle.runtime import Runtime
from tests.credits.helpers import balance, new_user, rows, upload
from tests.support.stack import Stack


def _attempt_count(stack: Stack, user: str) -> int:
    with stack.runtime.sessions() as session:
        return (
            session.scalar(
                select(func.count(RestoreAttempt.id))
                .join(Photo, Photo.id == RestoreAttempt.photo_id)
                .where(Photo.owner_id == user)
            )
            or 0
        )


def test_one_credit_restores_once_then_402_creates_nothing(credits_stack: Stack) -> None:
    """Acceptance 1."""
    stack = credits_stack
    user = new_user(stack, "one-credit", credits=1)
    first, second = upload(stack, user, 1), upload(stack, user, 2)
    accepted = stack.restore(first["id"], user=user)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["params"]["credits_charged"] == 1
    assert balance(stack, user) == 0

    refused = stack.restore(second["id"], user=user)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "1 credit" in error["message"] and "balance is 0" in error["message"]
    assert (error["required"], error["balance"]) == (1, 0)
    # Nothing was created or changed by the refusal.
    after = stack.photo(second["id"], user=user)
    assert after["status"] == "uploaded" and after["restore_attempts"] == []
    assert _attempt_count(stack, user) == 1
    assert [r.kind for r in rows(stack, user)] == ["grant", "charge", "charge"]

    # Success keeps the charge.
    done = stack.wait_for_photo(first["id"], ("ready",), user=user)
    assert done["restore_attempts"][0]["status"] == "completed"
    assert balance(stack, user) == 0
    charge = rows(stack, user)[-1]
    assert charge.reference == f"charge:{accepted.json()['id']}" and charge.delta == -1


def test_failed_restoration_leaves_the_balance_where_it_started(credits_stack: Stack) -> None:
    """Acceptance 2: the worker fails (storage lost the original); the charge is refunded."""
    stack = credits_stack
    user = new_user(stack, "fails", credits=4)
    photo = upload(stack, user, 3)
    with stack.runtime.sessions() as session:
        found = session.get(Photo, uuid.UUID(photo["id"]))
        assert found is not None
        stack.runtime.store.delete_many([found.original_key])
    accepted = stack.restore(photo["id"], user=user)
    assert accepted.status_code == 202
    after = stack.wait_for_photo(photo["id"], ("uploaded",), user=user)
    assert after["restore_attempts"][0]["status"] == "failed"
    assert balance(stack, user) == 4
    attempt_id = accepted.json()["id"]
    kinds = [(r.kind, r.delta, r.reference) for r in rows(stack, user)][-2:]
    assert kinds == [("charge", -1, f"charge:{attempt_id}"), ("refund", 1, f"refund:{attempt_id}")]
    # Failing it again (a late duplicate) refunds nothing more.
    with session_scope(stack.runtime.sessions) as session:
        assert not mark_failed(session, uuid.UUID(attempt_id), code="x", message="again")
    assert balance(stack, user) == 4 and len(rows(stack, user)) == 4


def _stuck(stack: Stack, user: str, seed: int, started_ago: timedelta) -> uuid.UUID:
    """An attempt accepted (and charged) whose worker died `started_ago`."""
    photo = upload(stack, user, seed)
    with session_scope(stack.runtime.sessions) as session:
        attempt = service.request_restore(
            session, stack.settings, user, uuid.UUID(photo["id"]), RestoreOptions()
        )
        session.execute(
            update(RestoreAttempt)
            .where(RestoreAttempt.id == attempt.id)
            .values(status=AttemptStatus.PROCESSING, started_at=utcnow() - started_ago)
        )
    return attempt.id


def test_sweep_refunds_stuck_attempts_exactly_once(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "swept", credits=5)
    limit = stack.settings.task_time_limit_seconds
    stuck = _stuck(stack, user, 4, timedelta(seconds=limit + 30))
    running = _stuck(stack, user, 5, timedelta(seconds=1))
    assert balance(stack, user) == 3
    sweep_stuck_attempts(stack.runtime)
    sweep_stuck_attempts(stack.runtime)
    with stack.runtime.sessions() as session:
        swept = session.get(RestoreAttempt, stuck)
        assert swept is not None and swept.error_code == "timed_out"
        still = session.get(RestoreAttempt, running)
        assert still is not None and still.status == "processing"
    refunds = [r for r in rows(stack, user) if r.kind == "refund"]
    assert [r.reference for r in refunds] == [f"refund:{stuck}"]
    assert balance(stack, user) == 4  # the running one stays charged
    # A worker finishing late finds the attempt failed and changes nothing.
    with session_scope(stack.runtime.sessions) as session:
        assert not mark_failed(session, stuck, code="late", message="late")
    assert balance(stack, user) == 4


def test_queue_down_refunds_at_once(credits_stack: Stack) -> None:
    """The broker cannot be reached when the task is sent: 503, attempt failed, charge refunded."""
    stack = credits_stack
    user = new_user(stack, "queue-down", credits=2)
    photo = upload(stack, user, 6)
    broken = Runtime(stack.settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"}))
    try:
        with session_scope(broken.sessions) as session:
            attempt = service.request_restore(
                session, broken.settings, user, uuid.UUID(photo["id"]), RestoreOptions()
            )
        assert balance(stack, user) == 1
        with pytest.raises(ServiceUnavailable):
            dispatch_restore(broken, attempt.id)
    finally:
        broken.close()
    assert balance(stack, user) == 2
    after = stack.photo(photo["id"], user=user)
    assert after["status"] == "uploaded"
    assert after["restore_attempts"][0]["error"]["code"] == "queue_unavailable"


def test_refund_is_what_was_charged_not_todays_price(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "repriced", credits=6)
    photo = upload(stack, user, 7)
    dearer = stack.settings.model_copy(update={"price_restore": 4})
    with session_scope(stack.runtime.sessions) as session:
        attempt = service.request_restore(
            session, dearer, user, uuid.UUID(photo["id"]), RestoreOptions()
        )
        assert attempt.params["credits_charged"] == 4
    assert balance(stack, user) == 2
    with session_scope(stack.runtime.sessions) as session:  # the price is 1 again by now
        assert mark_failed(session, attempt.id, code="timed_out", message="Service timeout")
    assert balance(stack, user) == 6
    assert rows(stack, user)[-1].delta == 4


def test_rejected_requests_are_not_charged(credits_stack: Stack) -> None:
    """404, 409 and validation errors take no credit (the charge is rolled back with them)."""
    stack = credits_stack
    user = new_user(stack, "rejected", credits=3)
    photo = upload(stack, user, 8)
    assert stack.restore(str(uuid.uuid4()), user=user).status_code == 404
    assert stack.restore(photo["id"], user=user, engine="nope").status_code == 400
    assert stack.restore(photo["id"], user=user).status_code == 202
    busy = stack.restore(photo["id"], user=user)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "restore_in_progress"
    assert balance(stack, user) == 2
    with stack.runtime.sessions() as session:
        assert ledger.balance(session, user) == 2
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
