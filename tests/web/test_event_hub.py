"""The Redis bus's shared pub/sub connection (`RedisHub`), against the real Redis: one connection
per event loop for any number of streams, each stream getting only its own user's events, channels
unsubscribed when their last stream leaves, every stream ending when the connection fails, and a
stream that falls too far behind ending alone.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis

from rekindle.events import bus as bus_module
from rekindle.events import hub as hub_module
from rekindle.events.bus import RedisBus, StreamEvent, channel_name
from tests.support.services import redis_url

pytestmark = pytest.mark.redis

Stream = AsyncIterator[StreamEvent | None]


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def bus(admin: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisBus]:
    _name_this_tests_hub(monkeypatch)
    bus = RedisBus(redis_url())
    yield bus
    bus.close()


def _name_this_tests_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub connection name of this test's own, so that other buses on this Redis (other tests,
    a stack still shutting down, other runs) are not counted."""
    monkeypatch.setattr(hub_module, "CLIENT_NAME", f"rekindle-events-{uuid.uuid4().hex[:8]}")


def _run(scenario: Coroutine[Any, Any, None]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):
            await scenario

    asyncio.run(bounded())


def _hub_connections(admin: redis.Redis) -> list[dict[str, Any]]:
    """This database's hub connections that are subscribed to at least one channel."""
    db = admin.connection_pool.connection_kwargs.get("db", 0)
    return [
        client
        for client in admin.client_list()
        if client["name"] == hub_module.CLIENT_NAME
        and int(client["db"]) == db
        and int(client["sub"]) > 0
    ]


def _listeners(admin: redis.Redis, user: str) -> int:
    [(_, count)] = admin.pubsub_numsub(channel_name(user))
    return int(count)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def _next_event(stream: Stream, timeout: float = 5.0) -> StreamEvent:
    async with asyncio.timeout(timeout):
        while (item := await anext(stream)) is None:
            pass
    return item


async def _rest(stream: Stream, timeout: float = 5.0) -> list[str]:
    """The ids of the events a stream still yields before it ends; fails if it does not end."""
    async with asyncio.timeout(timeout):
        return [item.id async for item in stream if item is not None]


def test_many_streams_share_one_connection_and_get_only_their_events(
    bus: RedisBus, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "IDLE_SECONDS", 0.2)
    users = ["ann", "ben", "cy"]

    async def scenario() -> None:
        streams = {user: [bus.subscribe(user, None) for _ in range(4)] for user in users}
        for stream in (s for group in streams.values() for s in group):
            assert (await anext(stream)).data == {}  # type: ignore[union-attr]
        [connection] = _hub_connections(admin)
        assert connection["sub"] == "3"  # one subscription per user, not per stream
        assert [_listeners(admin, user) for user in users] == [1, 1, 1]

        sent: dict[str, list[str]] = {user: [] for user in users}
        for n in range(5):
            for user in users:
                sent[user].append(bus.publish(user, {"type": "test", "user": user, "n": n}))
        for user, group in streams.items():
            for stream in group:
                got = [await _next_event(stream) for _ in range(5)]
                assert [event.id for event in got] == sent[user]
                assert [event.data for event in got] == [
                    {"type": "test", "user": user, "n": n} for n in range(5)
                ]
        # Nothing else arrives; idle streams yield heartbeats.
        every = [s for group in streams.values() for s in group]
        assert await asyncio.gather(*(anext(s) for s in every)) == [None] * len(every)

        for stream in streams["ann"][:3]:
            await stream.aclose()
        await asyncio.sleep(0.2)
        assert _listeners(admin, "ann") == 1  # one stream of ann's is still open
        await streams["ann"][3].aclose()
        await _until(lambda: _listeners(admin, "ann") == 0)
        assert [_listeners(admin, user) for user in ("ben", "cy")] == [1, 1]
        for stream in streams["ben"] + streams["cy"]:
            await stream.aclose()
        await _until(lambda: not _hub_connections(admin))

    _run(scenario())

    async def on_another_loop() -> None:
        stream = bus.subscribe("ann", None)
        await anext(stream)
        event_id = bus.publish("ann", {"type": "test"})
        assert (await _next_event(stream)).id == event_id
        await stream.aclose()

    _run(on_another_loop())  # a new loop gets a hub of its own


def test_a_lost_connection_ends_every_stream_and_the_next_reconnects(
    bus: RedisBus, admin: redis.Redis
) -> None:
    async def scenario() -> None:
        streams = [bus.subscribe(user, None) for user in ("dora", "dora", "eli")]
        for stream in streams:
            await anext(stream)
        [connection] = _hub_connections(admin)
        started = time.monotonic()
        admin.client_kill_filter(_id=connection["id"])  # only ours: other runs share this Redis
        assert await asyncio.gather(*(_rest(stream, timeout=3) for stream in streams)) == [[]] * 3
        assert time.monotonic() - started < 3

        fresh = bus.subscribe("dora", None)
        await anext(fresh)
        [again] = _hub_connections(admin)
        assert again["id"] != connection["id"]
        event_id = bus.publish("dora", {"type": "test"})
        assert (await _next_event(fresh)).id == event_id
        await fresh.aclose()

    _run(scenario())


def test_a_slow_stream_is_ended_alone_and_replays_on_reconnect(
    bus: RedisBus, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_LENGTH", 5)

    async def scenario() -> None:
        fast, slow = bus.subscribe("fay", None), bus.subscribe("fay", None)
        await anext(fast)
        await anext(slow)
        ids = []
        for n in range(12):  # the fast stream reads each event; the slow one reads nothing
            ids.append(bus.publish("fay", {"type": "test", "n": n}))
            assert (await _next_event(fast)).id == ids[-1]
        # The slow stream still gets what was queued for it, then ends.
        seen = await _rest(slow)
        assert seen == ids[:5]
        ids.append(bus.publish("fay", {"type": "test", "n": 12}))
        assert (await _next_event(fast)).id == ids[-1]
        assert _listeners(admin, "fay") == 1
        # Its client reconnects after the last event it saw, and gets the rest from the log.
        again = bus.subscribe("fay", seen[-1])
        assert (await anext(again)).id == seen[-1]  # type: ignore[union-attr]
        assert [(await _next_event(again)).id for _ in ids[5:]] == ids[5:]
        await again.aclose()
        await fast.aclose()

    _run(scenario())


def test_closing_the_bus_ends_streams_on_other_threads(
    admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _name_this_tests_hub(monkeypatch)
    bus = RedisBus(redis_url())
    subscribed = threading.Event()
    ended: list[list[str]] = []

    async def listen() -> None:
        stream = bus.subscribe("gus", None)
        await anext(stream)
        subscribed.set()
        ended.append(await _rest(stream, timeout=10))

    thread = threading.Thread(target=_run, args=(listen(),))
    thread.start()
    assert subscribed.wait(10)
    assert len(_hub_connections(admin)) == 1
    bus.close()
    thread.join(10)
    assert ended == [[]]
    deadline = time.monotonic() + 5
    while _hub_connections(admin) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _hub_connections(admin) == []
