"""One Redis pub/sub connection per event loop, shared by every live stream on that loop.

An API process may hold thousands of open event streams; a pub/sub connection each would cost Redis
as many connections. A `RedisHub` keeps one: it sends SUBSCRIBE for a channel's first local listener
(`join`) and UNSUBSCRIBE after its last (`leave`), and a reader task fans each message out to the
listeners' queues. Any failure of the connection ends the hub and every stream on it (clients
reconnect and replay from the log); the bus builds a fresh hub for the next subscriber.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)

CLIENT_NAME = "rekindle-events"
"""The name of the hub's connections in Redis's `CLIENT LIST`."""
QUEUE_LENGTH = 100
"""Messages held for a listener that has not read them; one more ends its stream. Below the replay
log's length (200), so that the reconnecting client can still replay what it missed."""
CONFIRM_SECONDS = 5.0
"""How long a new listener waits for Redis to confirm the subscription before the connection is
taken for dead, seconds."""
PING_SECONDS = 15.0
"""After this long without a message the hub sends PING; after as long again without one it takes
the connection for dead, seconds."""

Messages = asyncio.Queue[bytes | None]
"""A listener's queue: the messages' payloads in order, then None when its stream must end."""


class RedisHub:
    """One pub/sub connection, and a client for other commands, serving the running event loop.

    Create it inside the loop that uses it, and use it from that loop only. Once the connection
    fails or `close()` is called, `ended` is True for good."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.get_running_loop()
        # No retries: a silent reconnect would lose what was published meanwhile. Failing instead
        # ends every stream, and the clients reconnect and replay from the log.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=5,
            client_name=CLIENT_NAME,
            retry=Retry(NoBackoff(), 0),
        )
        self.pubsub = self.client.pubsub()
        self.ended = False
        self.error: BaseException | None = None
        self._queues: dict[str, set[Messages]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}  # per channel: set once Redis confirmed it
        self._unconfirmed: deque[asyncio.Event] = deque()  # one per SUBSCRIBE sent, oldest first
        # Only `_run` writes to the connection, in this order: commands reach Redis in the order the
        # bookkeeping changed, and no listener's cancellation can cut one off half sent.
        self._outbox: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def join(self, channel: str) -> Messages:
        """Subscribe to `channel`; returns its queue once Redis has confirmed the subscription.
        Call `leave(channel, queue)` when done with it.

        The queue receives each message's payload (bytes), then None when the stream must end: the
        connection failed, the hub was closed, or the listener fell `QUEUE_LENGTH` messages behind.
        Raises `redis.ConnectionError` when the hub has ended or ends before the confirmation, and
        `TimeoutError` when Redis does not confirm within `CONFIRM_SECONDS` (the hub then ends)."""
        if self.ended:
            raise self._ended_error()
        queue: Messages = asyncio.Queue()  # bounded by `_dispatch`, which must never wait
        queues = self._queues.setdefault(channel, set())
        queues.add(queue)
        if len(queues) == 1:
            self._confirmed[channel] = asyncio.Event()
            self._unconfirmed.append(self._confirmed[channel])
            self._outbox.put_nowait(("SUBSCRIBE", channel))
        confirmed = self._confirmed[channel]
        try:
            try:
                async with asyncio.timeout(CONFIRM_SECONDS):
                    await confirmed.wait()
            except TimeoutError:
                log.warning("Redis did not confirm a subscription; closing the shared connection")
                self.close()
                raise
            if self.ended:
                raise self._ended_error()
        except BaseException:  # cancelled too: never leave a queue behind
            self.leave(channel, queue)
            raise
        return queue

    def leave(self, channel: str, queue: Messages) -> None:
        """Stop filling `queue`; UNSUBSCRIBE when it was `channel`'s last. Idempotent, and
        synchronous so that it can run in any `finally`."""
        queues = self._queues.get(channel)  # None once the hub has ended
        if queues is None:
            return
        queues.discard(queue)
        if not queues:
            del self._queues[channel], self._confirmed[channel]
            self._outbox.put_nowait(("UNSUBSCRIBE", channel))

    def close(self) -> None:
        """End the hub and every stream on it; its task then closes the connection. Idempotent.
        Call it on the hub's loop (from another thread: `loop.call_soon_threadsafe(hub.close)`)."""
        self._end()
        if self._task is not asyncio.current_task():
            self._task.cancel()

    def _ended_error(self) -> RedisConnectionError:
        error = RedisConnectionError(
            f"the shared Redis event connection has ended ({self.error or 'closed'})"
        )
        error.__cause__ = self.error
        return error

    def _fail(self, error: Exception) -> None:
        if not self.ended:
            streams = sum(len(queues) for queues in self._queues.values())
            log.warning(
                "the shared Redis event connection failed (%s); ending %d streams", error, streams
            )
            self.error = error
        self.close()

    def _end(self) -> None:
        self.ended = True
        for queues in self._queues.values():
            for queue in queues:
                queue.put_nowait(None)
        for event in (*self._confirmed.values(), *self._unconfirmed):
            event.set()  # whoever waits for a confirmation wakes, and sees `ended`
        self._queues.clear()
        self._confirmed.clear()
        self._unconfirmed.clear()

    async def _run(self) -> None:
        """Connect, start the reader, then send the outbox's commands until the hub ends."""
        reader: asyncio.Task[None] | None = None
        try:
            await self.pubsub.connect()
            reader = asyncio.create_task(self._read())
            while True:
                command = await self._outbox.get()
                await self.pubsub.execute_command(*command)
        except Exception as error:
            self._fail(error)
        finally:
            self._end()
            if reader is not None:
                reader.cancel()
            try:
                await self.pubsub.aclose()
                await self.client.aclose()
            except Exception:  # the connection may already be gone; nothing to release then
                log.debug("closing the shared Redis event connection failed", exc_info=True)

    async def _read(self) -> None:
        pinged = False
        try:
            while True:
                message = await self.pubsub.get_message(timeout=PING_SECONDS)
                if message is None:  # silence: is the connection still there?
                    if pinged:
                        raise RedisConnectionError("Redis did not answer PING")
                    pinged = True
                    self._outbox.put_nowait(("PING",))
                    continue
                pinged = False
                if message["type"] == "message":
                    self._dispatch(message["channel"].decode(), message["data"])
                elif message["type"] == "subscribe" and self._unconfirmed:
                    # Redis answers in order, so this confirms the oldest SUBSCRIBE sent.
                    self._unconfirmed.popleft().set()
        except Exception as error:
            self._fail(error)

    def _dispatch(self, channel: str, data: bytes) -> None:
        queues = self._queues.get(channel, set())
        for queue in list(queues):
            if queue.qsize() < QUEUE_LENGTH:
                queue.put_nowait(data)
                continue
            # A listener this far behind (a stalled client) would hold its backlog for ever: end
            # its stream; the client reconnects with Last-Event-ID and replays from the log.
            queues.discard(queue)
            queue.put_nowait(None)
            log.info(
                "an event stream on %s fell %d events behind; ending it", channel, QUEUE_LENGTH
            )
