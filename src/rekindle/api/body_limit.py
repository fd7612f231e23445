"""Bound request bodies while they stream in, and answer in the API's error shape.

Starlette's own body limit answers in plain text, so this middleware does the same job with our
JSON body: a declared `Content-Length` over the limit is refused before a byte is read; a chunked or
under-declared body is counted as it arrives and reading stops at the limit. Whatever response the
app then produces (the form parser fails on the cut-off body) is replaced by the 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rekindle.errors import PayloadTooLarge


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: bodies over `max_body_bytes` bytes get a JSON 413 (`file_too_large`)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, message: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        error = PayloadTooLarge(message)
        self.body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._reject(send)
                return
        received = 0
        too_large = False
        responded = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if too_large:  # the app's answer to a body we cut off: send the 413 instead, once
                if not responded:
                    responded = True
                    await self._reject(send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not responded:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
