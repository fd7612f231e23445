"""A small server-sent events client for tests: reads a stream in a thread, parses its frames
(WHATWG HTML, "Server-sent events": `id:`, `event:`, `data:`, comments) and hands them over."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    event: str
    id: str | None
    data: Any
    comment: str | None = None


@dataclass
class SSEClient:
    """Open with `open()`; frames arrive in `frames`; `close()` drops the connection."""

    base_url: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    status_code: int | None = None
    frames: queue.Queue[Frame] = field(default_factory=queue.Queue)
    seen: list[Frame] = field(default_factory=list)

    def open(self, timeout: float = 10) -> SSEClient:
        self._client = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(30, read=None))
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._opened.wait(timeout), "the stream did not answer"
        return self

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.path, headers=self.headers) as response:
                self.status_code = response.status_code
                self._response = response
                self._opened.set()
                if response.status_code != 200:
                    response.read()
                    self.body = response.text
                    return
                event, event_id, data = "message", None, []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.frames.put(Frame("comment", None, None, line[1:].strip()))
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif line == "" and (data or event_id):
                        payload = json.loads("\n".join(data)) if data else None
                        self.frames.put(Frame(event, event_id, payload))
                        event, event_id, data = "message", None, []
        except (httpx.HTTPError, RuntimeError, ValueError):
            pass  # closed by the test
        finally:
            self._opened.set()

    def next(self, timeout: float = 30, event: str | None = None) -> Frame:
        """The next frame (of type `event`, skipping others); AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event or 'frame'} within {timeout} s; saw {self.seen}")
            try:
                frame = self.frames.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(frame)
            if event is None or frame.event == event:
                return frame

    def attempts_until(self, attempt_id: str, status: str, timeout: float = 60) -> list[Frame]:
        """`attempt` frames up to the one where `attempt_id` reaches `status`."""
        got: list[Frame] = []
        while True:
            frame = self.next(timeout, event="attempt")
            got.append(frame)
            if frame.data["attempt_id"] == attempt_id and frame.data["status"] == status:
                return got

    def drain(self, seconds: float) -> list[Frame]:
        """Every frame that arrives within `seconds`."""
        got: list[Frame] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self.frames.get(timeout=remaining))
            except queue.Empty:
                break
        self.seen += got
        return got

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._client.close()
        self._thread.join(timeout=5)
