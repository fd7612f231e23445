"""Live events over server-sent events, on the embedded stack (database bus) and on PostgreSQL +
Redis + S3 (Redis pub/sub), with the worker in its own process."""

from __future__ import annotations

import time

import pytest

from rekindle.events import bus_for, publish
from rekindle.events import endpoints as event_endpoints
from tests.support.services import shared_photo
from tests.support.stack import Stack
from tests.web.sse import SSEClient

PHOTO = "real-old/bw-two-people-1919.jpg"


def _stream(stack: Stack, user: str, **headers: str) -> SSEClient:
    client = SSEClient(stack.base_url, "/api/v1/events", {**stack.auth(user), **headers}).open()
    assert client.status_code == 200
    return client


def _ticket(stack: Stack, user: str) -> str:
    response = stack.client.post("/api/v1/events/ticket", headers=stack.auth(user))
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 < body["expires_in"] <= 60
    return str(body["ticket"])


def test_events_arrive_from_the_worker_process(stack: Stack) -> None:
    user = f"live-{stack.kind}"
    stream = _stream(stack, user)
    try:
        ready = stream.next(event="ready")
        assert ready.id is not None and ready.data == {}
        photo = stack.upload(shared_photo(PHOTO), user=user)
        attempt = stack.restore(photo["id"], user=user, denoise=0.4).json()
        frames = stream.attempts_until(attempt["id"], "completed")
    finally:
        stream.close()
    mine = [f.data for f in frames if f.data["attempt_id"] == attempt["id"]]
    # pending is published by the API, processing and completed by the worker (another process).
    assert [e["status"] for e in mine] == ["pending", "processing", "completed"]
    assert mine[-1] == {
        **mine[-1],
        "type": "attempt",
        "kind": "restore",
        "photo_id": photo["id"],
        "photo_status": "ready",
    }
    assert mine[0]["photo_status"] == "processing"
    ids = [f.id for f in frames]
    assert len(set(ids)) == len(ids)


def test_another_users_events_never_arrive(stack: Stack) -> None:
    alice, bob = f"alice-{stack.kind}", f"bob-{stack.kind}"
    alice_stream, bob_stream = _stream(stack, alice), _stream(stack, bob)
    try:
        alice_stream.next(event="ready")
        bob_stream.next(event="ready")
        photo = stack.upload(shared_photo(PHOTO), user=alice)
        attempt = stack.restore(photo["id"], user=alice).json()
        alice_stream.attempts_until(attempt["id"], "completed")
        leaked = [f for f in bob_stream.drain(1.5) if f.event == "attempt"]
    finally:
        alice_stream.close()
        bob_stream.close()
    assert leaked == []


def test_a_dropped_stream_replays_after_last_event_id(stack: Stack) -> None:
    user = f"dropper-{stack.kind}"
    stream = _stream(stack, user)
    cursor = stream.next(event="ready").id
    stream.close()  # the connection drops; the restoration goes on meanwhile
    photo = stack.upload(shared_photo(PHOTO), user=user)
    attempt = stack.restore(photo["id"], user=user).json()
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    assert cursor is not None
    again = _stream(stack, user, **{"Last-Event-ID": cursor})
    try:
        frames = again.attempts_until(attempt["id"], "completed", timeout=10)
    finally:
        again.close()
    assert [f.data["status"] for f in frames] == ["pending", "processing", "completed"]
    # Browsers reconnecting with a fresh ticket pass the id as a query parameter instead.
    ticket = _ticket(stack, user)
    query = SSEClient(
        stack.base_url, f"/api/v1/events?ticket={ticket}&last_event_id={frames[0].id}"
    )
    query.open()
    try:
        assert query.status_code == 200
        replayed = query.attempts_until(attempt["id"], "completed", timeout=10)
    finally:
        query.close()
    assert [f.data["status"] for f in replayed] == ["processing", "completed"]


def test_tickets_open_one_stream_and_expire(stack: Stack) -> None:
    user = f"ticket-{stack.kind}"
    ticket = _ticket(stack, user)
    first = SSEClient(stack.base_url, f"/api/v1/events?ticket={ticket}").open()
    try:
        assert first.status_code == 200
        first.next(event="ready")
        publish(stack.runtime, user, {"type": "attempt", "status": "processing", "attempt_id": "x"})
        assert first.next(event="attempt").data["attempt_id"] == "x"
    finally:
        first.close()
    reused = stack.client.get(f"/api/v1/events?ticket={ticket}")
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "invalid_ticket"
    short = bus_for(stack.runtime).create_ticket(user, 1)
    time.sleep(2.1)
    expired = stack.client.get(f"/api/v1/events?ticket={short}")
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "invalid_ticket"
    assert stack.client.get("/api/v1/events?ticket=made-up").status_code == 401
    assert stack.client.get("/api/v1/events").status_code == 401
    assert stack.client.post("/api/v1/events/ticket").status_code == 401


def test_heartbeats_keep_an_idle_stream_open(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_endpoints, "HEARTBEAT_SECONDS", 1.0)
    stream = _stream(stack, f"idle-{stack.kind}")
    try:
        stream.next(event="ready")
        beat = stream.next(timeout=5, event="comment")
    finally:
        stream.close()
    assert beat.comment == "heartbeat"
