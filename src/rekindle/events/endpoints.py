"""`/api/v1/events`: the signed-in user's live attempt changes as server-sent events.

The stream follows the WHATWG HTML standard's "Server-sent events" section
(https://html.spec.whatwg.org/multipage/server-sent-events.html): `text/event-stream`, one
`id:`/`event:`/`data:` block per event, comment lines as heartbeats, a `retry:` hint, and replay
after the `Last-Event-ID` request header.

Browsers' `EventSource` cannot send an `Authorization` header, and a long-lived token must never
travel in a URL (it would land in logs and history). So the page first trades its bearer token for a
ticket (`POST /api/v1/events/ticket`): random, bound to the user, valid `TICKET_TTL_SECONDS`, good
for one stream. Non-browser clients may instead send their bearer token in the header.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from rekindle.api.deps import CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.routing import TransactionalRoute
from rekindle.errors import BadRequest, ServiceUnavailable, Unauthorized
from rekindle.events.bus import StreamEvent, bus_for
from rekindle.runtime import Runtime
from rekindle.users import account_deleted, is_deleted

router = APIRouter(route_class=TransactionalRoute, tags=["events"], responses=ERRORS)

TICKET_TTL_SECONDS = 30
"""Lifetime of a stream ticket, seconds (at most 60 by design)."""
HEARTBEAT_SECONDS = 15.0
"""A comment line is sent after this long without an event, seconds (keeps proxies from closing
an idle stream and lets the server notice a client that went away)."""
RETRY_MILLISECONDS = 2000
"""The reconnection delay the stream suggests to `EventSource` (the SSE `retry:` field)."""


def _events_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Live updates are unavailable right now; poll the photos instead, or retry shortly.",
        code="events_unavailable",
    )


class Ticket(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to GET /api/v1/events; works once")
    expires_in: int = Field(description="Seconds until the ticket expires")


@router.post("/events/ticket", response_model=Ticket)
def create_ticket(runtime: RuntimeDep, session: SessionDep, user: CurrentUser) -> Ticket:
    """A one-time ticket that opens one event stream for the signed-in user within `expires_in`
    seconds, so that the bearer token never appears in a URL."""
    session.commit()  # the ticket is written on the bus's own connection: release SQLite's lock
    try:
        ticket = bus_for(runtime).create_ticket(user.id, TICKET_TTL_SECONDS)
    except RedisError as exc:
        raise _events_unavailable() from exc
    return Ticket(ticket=ticket, expires_in=TICKET_TTL_SECONDS)


def _frame(item: StreamEvent) -> str:
    if not item.data:  # the stream's start: tells the client where it resumes from
        return f"id: {item.id}\nevent: ready\ndata: {{}}\n\n"
    kind = str(item.data.get("type", "message"))
    data = json.dumps(item.data, separators=(",", ":"))
    return f"id: {item.id}\nevent: {kind}\ndata: {data}\n\n"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream_events(
    request: Request,
    runtime: RuntimeDep,
    ticket: Annotated[str | None, Query(description="From POST /events/ticket")] = None,
    last_event_id: Annotated[
        str | None,
        Query(description="Resume after this event id (for clients that cannot set the header)"),
    ] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The signed-in user's attempt events, as `text/event-stream`.

    Authenticated by a one-time `ticket` (browsers) or an `Authorization: Bearer` header. Events:
    `ready` first (its id is the position the stream starts from), then `attempt` events with the
    payload `{"type": "attempt", "kind", "photo_id", "attempt_id", "status", "photo_status", "at"}`.
    After a `Last-Event-ID` (header, or `last_event_id` query), the events missed since are replayed
    first, while the server still keeps them (an hour). 401 without valid credentials; 503
    `events_unavailable` when the event bus (Redis) cannot be reached: the stream answers 200 only
    once it is subscribed."""
    bus = bus_for(runtime)
    if ticket:
        try:
            user_id = await asyncio.to_thread(bus.redeem_ticket, ticket)
        except RedisError as exc:
            raise _events_unavailable() from exc
        if user_id is None:
            raise Unauthorized(
                "This event-stream ticket is unknown, used or expired; request a new one.",
                code="invalid_ticket",
            )
    elif authorization and authorization.lower().startswith("bearer "):
        identity = runtime.verifier.verify(authorization[7:].strip())
        user_id = identity.subject
        if await asyncio.to_thread(_deleted, runtime, user_id):
            raise account_deleted()
    else:
        raise Unauthorized("A ticket (POST /api/v1/events/ticket) or a bearer token is required.")
    after = _event_id(last_event_id_header or last_event_id)
    events = bus.subscribe(user_id, after)
    try:
        ready = await anext(events)  # subscribed, and the resume position known
    except (RedisError, TimeoutError) as exc:
        raise _events_unavailable() from exc
    return StreamingResponse(
        _stream(request, ready, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
    )


def _deleted(runtime: Runtime, subject: str) -> bool:
    with runtime.sessions() as session:
        return is_deleted(session, subject)


EVENT_ID = re.compile(r"[0-9]{1,18}(-[0-9]{1,18})?")
"""The ids this server gives events: a database sequence (embedded) or a Redis stream id
(`<milliseconds>-<sequence>`), ASCII digits only, each part within a signed 64-bit integer."""


def _event_id(value: str | None) -> str | None:
    """The resume position a client sent, or None for none. Raises BadRequest
    (`invalid_event_id`) for anything that is not an id of ours (e.g. `²`, which `str.isdigit`
    accepts but `int` refuses, or a number Redis cannot hold)."""
    value = (value or "").strip()
    if not value:
        return None
    if not EVENT_ID.fullmatch(value):
        raise BadRequest(
            "Last-Event-ID must be an event id this server sent (digits, or digits-digits).",
            code="invalid_event_id",
        )
    return value


async def _stream(
    request: Request, ready: StreamEvent | None, events: AsyncIterator[StreamEvent | None]
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    if ready is not None:
        yield _frame(ready)
    last_sent = time.monotonic()
    try:
        async for item in events:
            if item is not None:
                yield _frame(item)
                last_sent = time.monotonic()
                continue
            if await request.is_disconnected():
                return
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
    finally:
        await events.aclose()  # type: ignore[attr-defined]
