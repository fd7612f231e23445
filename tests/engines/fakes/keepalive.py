"""A SiliconFlow stand-in on raw sockets that closes kept-alive connections as a real server's
idle timer does: unanswered, the moment the next request arrives on them.

uvicorn (the other fakes' server) closes an idle connection after 5 s, and httpx reuses one for
5 s: a request sent just as the server's timer fires meets a closed socket (issue 16's benchmark
lost 1 to 3 attempts in 500 that way). That race cannot be timed reliably in a test, so this
server plays its outcome on purpose. It speaks HTTP/1.1 with keep-alive and the same documented
routes as `FakeSiliconFlow`: `POST /v1/images/generations` (Bearer auth, 200 `{"images":
[{"url"}], "timings", "seed"}`) and `GET /cdn/<name>` (the PNG result).

Knobs: `drop_reused` (how many requests arriving on a kept-alive connection are dropped unread),
`how` (`"fin"`: the server shuts its side, the client reads end of stream; `"rst"`: it closes with
the request unread in its buffer, so the kernel sends a reset), and `drop_fresh_after_reading`
(how many requests on a NEW connection are read, counted as applied, then dropped unanswered: a
server that crashed while working). `applied` counts generation requests read in full.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
from typing import Literal

from .media import png_bytes
from .siliconflow import API_KEY


class KeepAliveClosingSiliconFlow:
    def __init__(self, *, how: Literal["fin", "rst"] = "fin") -> None:
        self.how = how
        self.drop_reused = 0
        self.drop_fresh_after_reading = 0
        self.applied = 0
        self.dropped = 0
        self.connections = 0
        self.result = png_bytes(32, 24)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1/images/generations"

    def __enter__(self) -> KeepAliveClosingSiliconFlow:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        with contextlib.suppress(OSError):  # wakes the blocked accept() (close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            served = 0
            while True:
                # wait until the next request's bytes are here, unread
                if not select.select([conn], [], [], 10)[0]:
                    return
                if served and self._take("drop_reused"):
                    self._drop_unread(conn)
                    return
                request = _read_request(conn)
                if request is None:
                    return
                method, path, headers, body = request
                if not served and self._take("drop_fresh_after_reading"):
                    if path.endswith("/images/generations"):
                        with self._lock:
                            self.applied += 1
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(self._answer(method, path, headers, body))
                served += 1

    def _take(self, knob: str) -> bool:
        with self._lock:
            if getattr(self, knob) <= 0:
                return False
            setattr(self, knob, getattr(self, knob) - 1)
            self.dropped += 1
            return True

    def _drop_unread(self, conn: socket.socket) -> None:
        if self.how == "rst":
            # a close with received data unread sends a reset (RFC 1122 §4.2.2.13); a zero
            # linger makes it so whatever the kernel's choice
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return  # the `with` closes it
        conn.shutdown(socket.SHUT_WR)  # FIN: the client reads end of stream, no answer
        # the request is discarded, never parsed; drained only so that the close sends no reset
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                pass

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if method == "POST" and path == "/v1/images/generations":
            if headers.get("authorization") != f"Bearer {API_KEY}":
                return _response(401, b'"Invalid token"', "application/json")
            payload = json.loads(body)
            with self._lock:
                self.applied += 1
                number = self.applied
            answer = {
                "images": [{"url": f"{self.url}/cdn/result-{number}.png"}],
                "timings": {"inference": 0.5},
                "seed": payload.get("seed", 42),
            }
            return _response(200, json.dumps(answer).encode(), "application/json")
        if method == "GET" and path.startswith("/cdn/"):
            return _response(200, self.result, "image/png")
        return _response(404, b'"Not Found"', "application/json")


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return method, path, headers, body


def _response(status: int, body: bytes, content_type: str) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body
