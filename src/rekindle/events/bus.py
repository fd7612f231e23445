"""The two event buses (Redis, database) and the stream tickets they keep.

A bus does three things: `publish(user_id, event)` (sync: workers and sync endpoints call it),
`subscribe(user_id, after)` (async: the SSE endpoint iterates it), and one-time stream tickets
(`create_ticket`, `redeem_ticket`). Buses are cached per configuration, one per process; the Redis
bus's streams share one pub/sub connection per event loop (`rekindle.events.hub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.models import Event, EventTicket

if TYPE_CHECKING:
    from rekindle.events.hub import RedisHub
    from rekindle.runtime import Runtime

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often the database bus looks for new events, seconds."""
IDLE_SECONDS = 1.0
"""A subscription yields None after at most this long without an event (for heartbeats and
disconnect checks), seconds."""
RETENTION_SECONDS = 3600
"""Events older than this are pruned (database) or expire (Redis log), seconds."""
REDIS_LOG_LENGTH = 200
"""Events kept per user in the Redis replay log (approximately: `MAXLEN ~`)."""


@dataclass(frozen=True)
class StreamEvent:
    """One event as the stream sends it: its id (for `Last-Event-ID`) and its payload."""

    id: str
    data: dict[str, Any]


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class EventBus:
    """Interface of the buses."""

    def publish(self, user_id: str, event: dict[str, Any]) -> str | None:
        """Deliver `event` to `user_id`'s subscribers; returns its id, or None for a batch event
        that a later one of its batch has overtaken (`ordering`: it is dropped). Raises on
        backend errors."""
        return self.publish_many(user_id, [event])[0]

    def publish_many(self, user_id: str, events: list[dict[str, Any]]) -> list[str | None]:
        """`publish` each of `events`, in order, in one round trip where the backend allows;
        returns their ids (None where dropped). Raises on backend errors."""
        raise NotImplementedError

    def subscribe(self, user_id: str, after: str | None) -> AsyncIterator[StreamEvent | None]:
        """`user_id`'s events after id `after` (replayed first, if still kept), or from now when
        `after` is None or unusable; then live ones, in order. Yields None when idle for
        `IDLE_SECONDS`. The first item is always a `StreamEvent` with `data == {}` carrying the
        cursor the stream starts from (the id to resume after)."""
        raise NotImplementedError

    def create_ticket(self, user_id: str, ttl_seconds: int) -> str:
        """A random one-time ticket that opens one stream for `user_id` within `ttl_seconds`."""
        raise NotImplementedError

    def redeem_ticket(self, ticket: str) -> str | None:
        """The user a ticket was made for, consuming it; None when unknown, used or expired."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (tests)."""


# --- database --------------------------------------------------------------------------------


def _side_engine(url: str) -> Engine:
    """A small pool of its own. On SQLite it leaves transactions to pysqlite (reads take no lock,
    unlike the main engine's BEGIN IMMEDIATE), so polling never blocks the API or the worker."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=2, max_overflow=8, pool_pre_ping=True)


def ordering(event: dict[str, Any]) -> tuple[str, int] | None:
    """(batch id, sequence) of a batch progress event that carries its batch row's `seq`
    (`events.batch_progress`), else None. Such an event is published only when its sequence is
    above the highest already published for its batch: two attempts of a batch that end at once
    publish after their commits in either order, and the state with the lower sequence (an
    earlier one) must not be the last a client sees (issue 16)."""
    seq = event.get("seq")
    if event.get("type") != "batch" or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return str(event["batch_id"]), seq


class DatabaseBus(EventBus):
    """Events in the `events` table; subscribers poll it every `POLL_SECONDS`. A batch event's
    order (`ordering`) is kept on its batch's row (`restore_batches.published_seq`), raised in the
    transaction that inserts the event: that row lock orders the batch's events."""

    def __init__(self, url: str) -> None:
        self.engine = _side_engine(url)

    def publish_many(self, user_id: str, events: list[dict[str, Any]]) -> list[str | None]:
        ids: list[str | None] = []
        with Session(self.engine) as session, session.begin():
            for item in events:
                order = ordering(item)
                if order is not None and not self._advance(session, *order):
                    ids.append(None)
                    continue
                event_id = session.execute(
                    insert(Event)
                    .values(user_id=user_id, payload=item, created_at=utcnow())
                    .returning(Event.id)
                ).scalar_one()
                if event_id % 100 == 0:  # now and then, forget what no reconnect will ask for
                    cutoff = utcnow() - timedelta(seconds=RETENTION_SECONDS)
                    session.execute(delete(Event).where(Event.created_at < cutoff))
                ids.append(str(event_id))
        return ids

    @staticmethod
    def _advance(session: Session, batch_id: str, seq: int) -> bool:
        """Raise the batch's `published_seq` to `seq` (locking its row until the commit); False
        when it was already at or above it (or the batch is gone): the event is not published."""
        from sqlalchemy import update

        from rekindle.models import RestoreBatch

        moved = session.execute(
            update(RestoreBatch)
            .where(RestoreBatch.id == uuid.UUID(batch_id), RestoreBatch.published_seq < seq)
            .values(published_seq=seq)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(moved)

    def _latest_id(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.max(Event.id))) or 0)

    def _after(self, user_id: str, cursor: int) -> list[tuple[int, dict[str, Any]]]:
        with Session(self.engine) as session:
            rows = session.execute(
                select(Event.id, Event.payload)
                .where(Event.user_id == user_id, Event.id > cursor)
                .order_by(Event.id)
                .limit(100)
            ).all()
        return [(int(row[0]), row[1]) for row in rows]

    async def subscribe(self, user_id: str, after: str | None) -> AsyncIterator[StreamEvent | None]:
        cursor = int(after) if after and after.isascii() and after.isdigit() else None
        if cursor is None:
            cursor = await asyncio.to_thread(self._latest_id)
        yield StreamEvent(str(cursor), {})
        idle = 0.0
        while True:
            rows = await asyncio.to_thread(self._after, user_id, cursor)
            for event_id, payload in rows:
                cursor = event_id
                yield StreamEvent(str(event_id), payload)
            if rows:
                idle = 0.0
                continue
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS
            if idle >= IDLE_SECONDS:
                idle = 0.0
                yield None

    def create_ticket(self, user_id: str, ttl_seconds: int) -> str:
        ticket = secrets.token_urlsafe(32)
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            session.execute(delete(EventTicket).where(EventTicket.expires_at < now))
            session.add(
                EventTicket(
                    ticket_sha256=_ticket_hash(ticket),
                    user_id=user_id,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )
        return ticket

    def redeem_ticket(self, ticket: str) -> str | None:
        with Session(self.engine) as session, session.begin():
            # One statement: two requests racing with one ticket cannot both get a row back.
            row = session.execute(
                delete(EventTicket)
                .where(EventTicket.ticket_sha256 == _ticket_hash(ticket))
                .returning(EventTicket.user_id, EventTicket.expires_at)
            ).one_or_none()
        if row is None or row.expires_at <= utcnow():
            return None
        return str(row.user_id)

    def close(self) -> None:
        self.engine.dispose()


# --- Redis -------------------------------------------------------------------------------------

# For each event: a batch event with a sequence (ARGV[3 + 2i], '' for none) is dropped unless it
# is above the one kept at KEYS[1 + i] (then kept there); the others are XADDed to the capped
# replay log KEYS[1] and PUBLISHed with their entry id. Returns the entry ids ('' where dropped).
# ARGV: channel, log length, seconds kept, then per event its payload and its sequence.
_PUBLISH_LUA = """
local ids = {}
local n = (#ARGV - 3) / 2
for i = 1, n do
  local payload = ARGV[2 + 2 * i]
  local seq = ARGV[3 + 2 * i]
  local fresh = true
  if seq ~= '' then
    local last = tonumber(redis.call('GET', KEYS[1 + i]) or '0')
    if tonumber(seq) <= last then
      fresh = false
    else
      redis.call('SET', KEYS[1 + i], seq, 'EX', ARGV[3])
    end
  end
  if fresh then
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'data', payload)
    redis.call('PUBLISH', ARGV[1], id .. ' ' .. payload)
    ids[i] = id
  else
    ids[i] = ''
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return ids
"""


def channel_name(user_id: str) -> str:
    """The Redis pub/sub channel of `user_id`'s events."""
    return f"rekindle:events:{user_id}"


def _log_key(user_id: str) -> str:
    return f"rekindle:events:{user_id}:log"


def _order_key(batch_id: str) -> str:
    """Where the Redis bus keeps the highest sequence published for a batch (`ordering`)."""
    return f"rekindle:events:batch:{batch_id}:seq"


def _ticket_key(ticket: str) -> str:
    return f"rekindle:events:ticket:{_ticket_hash(ticket)}"


def _stream_id(value: str) -> tuple[int, int] | None:
    milliseconds, _, sequence = value.partition("-")
    if not (value.isascii() and milliseconds.isdigit() and sequence.isdigit()):
        return None
    return int(milliseconds), int(sequence)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBus(EventBus):
    """Redis pub/sub for live delivery, a capped Redis stream per user for replay. Each event loop's
    streams share one pub/sub connection (`rekindle.events.hub.RedisHub`)."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._publish = self.client.register_script(_PUBLISH_LUA)
        self._hubs: dict[asyncio.AbstractEventLoop, RedisHub] = {}  # one per event loop
        self._hubs_lock = threading.Lock()  # loops may run in several threads

    def publish_many(self, user_id: str, events: list[dict[str, Any]]) -> list[str | None]:
        """One script call for all of `events` (atomic, one round trip); a batch event overtaken
        by a later one of its batch (`ordering`) is dropped (None)."""
        log_key = _log_key(user_id)
        keys = [log_key]
        args: list[Any] = [channel_name(user_id), REDIS_LOG_LENGTH, RETENTION_SECONDS]
        for item in events:
            order = ordering(item)
            keys.append(log_key if order is None else _order_key(order[0]))
            args += [json.dumps(item, separators=(",", ":")), "" if order is None else order[1]]
        entry_ids = self._publish(keys=keys, args=args)
        return [_text(entry) or None for entry in entry_ids]

    def _hub(self) -> RedisHub:
        """The running loop's hub: a new one when it has none or its last one ended."""
        from rekindle.events.hub import RedisHub

        loop = asyncio.get_running_loop()
        with self._hubs_lock:
            for closed in [other for other in self._hubs if other.is_closed()]:
                del self._hubs[closed]  # its tasks and connection went with the loop
            hub = self._hubs.get(loop)
            if hub is None or hub.ended:
                hub = self._hubs[loop] = RedisHub(self.url)
            return hub

    async def subscribe(self, user_id: str, after: str | None) -> AsyncIterator[StreamEvent | None]:
        """See `EventBus.subscribe`. Live events come through the loop's shared `RedisHub`. Raises
        `redis.RedisError` or `TimeoutError` when Redis cannot be reached or does not confirm the
        subscription; ends (returns) when the shared connection fails or this stream falls
        `hub.QUEUE_LENGTH` events behind, so that the client reconnects and replays."""
        hub = self._hub()
        channel = channel_name(user_id)
        messages = await hub.join(channel)
        try:
            # Subscribed (and confirmed) before reading the log: nothing published in between can
            # be missed; an event seen twice is dropped by its id.
            start = _stream_id(after) if after else None
            replay: Any = []
            if start is not None:
                replay = await hub.client.xrange(_log_key(user_id), min=f"({after}", max="+")
            else:
                last: Any = await hub.client.xrevrange(_log_key(user_id), count=1)
                start = _stream_id(_text(last[0][0])) if last else None
            cursor: tuple[int, int] = start or (0, 0)
            yield StreamEvent(f"{cursor[0]}-{cursor[1]}", {})
            for entry_id, fields in replay:
                entry = _text(entry_id)
                cursor = _stream_id(entry) or cursor
                yield StreamEvent(entry, json.loads(fields[b"data"]))
            while True:
                try:
                    async with asyncio.timeout(IDLE_SECONDS):
                        message = await messages.get()
                except TimeoutError:
                    yield None
                    continue
                if message is None:  # the hub ended or this stream fell behind: the client resumes
                    return
                entry, _, payload = _text(message).partition(" ")
                position = _stream_id(entry)
                if position is None or position <= cursor:
                    continue
                cursor = position
                yield StreamEvent(entry, json.loads(payload))
        finally:
            hub.leave(channel, messages)  # synchronous: safe however the stream is closed

    def create_ticket(self, user_id: str, ttl_seconds: int) -> str:
        ticket = secrets.token_urlsafe(32)
        self.client.set(_ticket_key(ticket), user_id, ex=ttl_seconds, nx=True)
        return ticket

    def redeem_ticket(self, ticket: str) -> str | None:
        user_id: Any = self.client.getdel(_ticket_key(ticket))  # atomic: a ticket opens one stream
        return None if user_id is None else _text(user_id)

    def close(self) -> None:
        """Close the client, and end the hubs (their streams and connections) on their loops."""
        with self._hubs_lock:
            hubs = list(self._hubs.values())
            self._hubs.clear()
        for hub in hubs:
            # A hub belongs to its loop, maybe running in another thread: ask that loop to end it.
            with contextlib.suppress(RuntimeError):  # a closed loop took the connection with it
                hub.loop.call_soon_threadsafe(hub.close)
        self.client.close()


# --- one bus per configuration and process --------------------------------------------------------

_buses: dict[tuple[str, str | None], EventBus] = {}
_lock = threading.Lock()


def bus_for(target: Settings | Runtime) -> EventBus:
    """The process's bus for these settings: Redis when `REDIS_URL` is set, else the database."""
    settings = target if isinstance(target, Settings) else target.settings
    key = (settings.sqlalchemy_url, settings.redis_url)
    with _lock:
        bus = _buses.get(key)
        if bus is None:
            bus = RedisBus(settings.redis_url) if settings.redis_url else DatabaseBus(key[0])
            _buses[key] = bus
        return bus


def reset_buses() -> None:
    """Close and forget every bus (tests that drop their databases)."""
    with _lock:
        for bus in _buses.values():
            bus.close()
        _buses.clear()
