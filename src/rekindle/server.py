"""The HTTP server `rekindle serve` runs: uvicorn with the h11 parser, bounded and timed.

Why h11 and not httptools (uvicorn's default when installed): httptools has no limit on the size
of a request's headers (a 64 MB header was read and parsed in full, stalling the event loop for
everyone) and uvicorn has no read timeout with either parser. h11 refuses to buffer an incomplete
event (request line plus headers) over `h11_max_incomplete_event_size` bytes
(`MAX_HEADER_BYTES`), and `GuardedH11Protocol` adds what is missing:

- 431 Request Header Fields Too Large (RFC 6585, section 5) in the API's JSON error shape for
  h11's "receive buffer too long" (its `error_status_hint`), instead of uvicorn's plain 400;
- a read timeout (`HTTP_READ_TIMEOUT_SECONDS`): a connection whose request line, headers or body
  stall that long between two reads is closed, with 408 Request Timeout (RFC 9110, section
  15.5.9) when it is still sending headers. A connection that never sends a byte is closed too.
  Time while the server itself has paused reading (the app is not consuming the body yet) does
  not count. Idle keep-alive connections stay under uvicorn's `timeout_keep_alive`.

The same limits belong on a reverse proxy when there is one (docs/security.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from rekindle.config import Settings

TIMEOUT_KEEP_ALIVE_SECONDS = 75
"""Longer than the idle timeout of load balancers in front (AWS ALB: 60 s) and of clients' pools:
a connection the server closes while a request is on its way there is lost without an answer
(seen in benchmarks/load.py with uvicorn's 5 s default)."""


LINGER_BYTES = 1024 * 1024
"""After answering before the whole body arrived (a 401, a 413), at most this much more of the
body is read and dropped, so the client sees the answer instead of a reset connection; then the
connection is closed (nginx's "lingering close")."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a 431 for oversized headers and a read timeout.

    The limits come from the uvicorn `Config`: `h11_max_incomplete_event_size` (header bytes)
    and the `read_timeout` attribute `server_config` sets on it (seconds).
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.read_timeout: float = getattr(config, "read_timeout", 30.0)
        self.header_limit: int = self.conn._max_incomplete_event_size
        self._read_timer: asyncio.TimerHandle | None = None
        self._protocol_error: h11.RemoteProtocolError | None = None
        self._bytes_seen = False
        self._lingered = 0
        next_event = self.conn.next_event

        def recording_next_event() -> Any:
            try:
                return next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error = exc
                raise

        self.conn.next_event = recording_next_event  # type: ignore[method-assign]

    # --- oversized headers ----------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        error, self._protocol_error = self._protocol_error, None
        if error is None or error.error_status_hint != 431:
            super().send_400_response(msg)
            return
        self._cancel_read_timer()
        message = f"The request headers are larger than the {self.header_limit // 1024} KB limit."
        self._send_error(431, b"Request Header Fields Too Large", "headers_too_large", message)

    def _send_error(self, status: int, reason: bytes, code: str, message: str) -> None:
        # Written directly: h11 is in an error state after a protocol error.
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, reason, len(body))
        )
        self.transport.write(head + body)
        self.transport.close()

    # --- read timeout ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_timer()

    def data_received(self, data: bytes) -> None:
        self._bytes_seen = True
        if self._answered_early():
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self._cancel_read_timer()
                self.transport.close()
                return
        super().data_received(data)
        if self.transport.is_closing():
            self._cancel_read_timer()
        elif self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm_read_timer()  # still waiting for the rest of the request
        else:
            self._cancel_read_timer()

    def on_response_complete(self) -> None:
        self._bytes_seen = False
        self._lingered = 0
        super().on_response_complete()
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self._arm_read_timer()  # answered before the body ended: it must keep coming
        else:
            self._cancel_read_timer()  # idle keep-alive time is uvicorn's timeout_keep_alive

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def _answered_early(self) -> bool:
        return (
            self.cycle is not None
            and self.cycle.response_complete
            and self.conn.their_state is h11.SEND_BODY
        )

    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # we stopped reading, not the client: not its delay
            self._arm_read_timer()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._bytes_seen:
                self.logger.info("closing a connection whose request headers stalled")
                message = f"The request was not received within {self.read_timeout:g} s."
                self._send_error(408, b"Request Timeout", "request_timeout", message)
            else:
                self.transport.close()
        elif state is h11.SEND_BODY:
            # The app owns the response now; closing makes its `receive()` report a disconnect.
            self.logger.info("closing a connection whose request body stalled")
            self.transport.close()


def server_config(app: Any, settings: Settings, *, host: str, port: int, **kwargs: Any) -> Any:
    """The uvicorn `Config` for `app` (an app, or an import string with `factory=True` in
    `kwargs`) with Rekindle's HTTP limits from `settings`: the h11 parser through
    `GuardedH11Protocol`, `MAX_HEADER_BYTES`, `HTTP_READ_TIMEOUT_SECONDS`, keep-alive
    `TIMEOUT_KEEP_ALIVE_SECONDS`. Other uvicorn options pass through `kwargs`."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=GuardedH11Protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE_SECONDS,
        **kwargs,
    )
    config.read_timeout = settings.http_read_timeout_seconds  # type: ignore[attr-defined]
    return config
