"""HTTP plumbing shared by the remote engines (SiliconFlow, ComfyUI, RunPod).

- `make_client`: one thread-safe `httpx.Client` per engine instance, its pool sized to the engine's
  in-flight bound; `ThreadClients`: one small client per calling thread instead (SiliconFlow).
- `error_for_status`, `error_for_transport`: the single place where an HTTP status, a timeout or a
  network failure becomes an `EngineError` with one of the stable codes of `engines.base` (seed 001's
  table, fail fast, no retries; only a request a reused connection lost unread is sent again, see
  `request`). Provider error bodies are not uniform: SiliconFlow documents a JSON
  object for 400/429/503 (`{"code": 20012, "message": ..., "data": ...}`) and a bare JSON string for
  401/404/504 (`"Invalid token"`); `parse_error_body` reads both, and plain text too.
- `download`, `check_image`: fetch a result at once and make sure it really is an image.
- `InFlight`: the per-engine `threading.BoundedSemaphore` around each call.
- `request`: the engines' requests go through it (all but ComfyUI's best-effort cancel and
  clean-up); it sends a request once more when a reused keep-alive connection was closed before
  any answer (see `closed_unanswered`).

Sources: https://docs.siliconflow.com/en/faqs/error-code (status meanings),
https://docs.siliconflow.cn/cn/api-reference/images/images-generations (error bodies),
https://www.python-httpx.org/advanced/clients/ (a Client is thread-safe and pools connections),
https://www.encode.io/httpcore/extensions/#trace (the `trace` request extension),
RFC 9112 §9.6 and RFC 9110 §9.2.2 (idle connections closed at any time; when a request may be
sent again).
"""

from __future__ import annotations

import io
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from rekindle.engines.base import (
    PROVIDER_AUTH,
    PROVIDER_BAD_IMAGE,
    PROVIDER_BAD_RESULT,
    PROVIDER_BUSY,
    PROVIDER_CONFIG,
    PROVIDER_NO_BALANCE,
    PROVIDER_TIMEOUT,
    PROVIDER_UNAVAILABLE,
    EngineError,
)

log = logging.getLogger(__name__)

DETAIL_LIMIT = 1000
"""Characters of provider detail kept on an EngineError."""

MAX_RESULT_BYTES = 200 * 1024 * 1024
"""Largest result download accepted, bytes (an image or a video)."""

_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# Words by which providers say "your balance is empty" or "we are overloaded" in an error body.
_BALANCE_WORDS = ("balance", "insufficient", "quota", "credit")
_OVERLOAD_WORDS = ("overload", "busy", "capacity", "too many")
SILICONFLOW_NO_BALANCE_CODE = 30001
"""SiliconFlow's body code for "Sorry, your account balance is insufficient" (sent with 403)."""
SILICONFLOW_MODEL_MISSING_CODE = 20012
"""SiliconFlow's body code for "Model does not exist. Please check it carefully." (sent with 400):
the operator named a model the account cannot use, not a fault of the user's image."""
SILICONFLOW_OVERLOADED_CODE = 50505
"""SiliconFlow's documented 503 body code: "Model service overloaded. Please try again later."."""


def engine_error(kind: tuple[str, str], detail: str | None = None) -> EngineError:
    """An EngineError from one of base.py's (code, message) pairs, detail trimmed."""
    code, message = kind
    if detail is not None and len(detail) > DETAIL_LIMIT:
        detail = detail[: DETAIL_LIMIT - 1] + "…"
    return EngineError(code, message, detail)


def make_client(
    *,
    timeout: float,
    max_connections: int,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """A pooled, thread-safe client; `timeout` (seconds) is the default per-request timeout.

    Authentication headers are given per request, never here, so that result downloads from a
    provider's CDN never carry our API key. `verify`: httpx's default (True: a new TLS context
    with certifi's CA bundle, about 20 ms of CPU) or a context to share.
    """
    limits = httpx.Limits(
        max_connections=max(1, max_connections), max_keepalive_connections=max(1, max_connections)
    )
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        limits=limits,
        headers=headers or {},
        follow_redirects=True,
        verify=verify,
    )


class ThreadClients:
    """One small `httpx.Client` per calling thread (`get()`), all closed by `close()`.

    For an engine called from many threads at once (the worker's 128): httpcore's pool walks
    all its connections under one lock each time a request starts or ends, and its count of idle
    ones is quadratic in them (httpcore 1.0, `ConnectionPool._assign_requests_to_connections`);
    with one shared pool of 128 connections that walk was a fifth of the provider HTTP CPU
    (issue 16's profile). A thread makes one provider request at a time, so its own pool needs
    a connection per host only (the API and the result CDN). `timeout` in seconds.

    The clients share one TLS context, made once as httpx makes it for each client by default
    (`httpx.create_ssl_context()`: certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR): loading
    the bundle took about 20 ms of CPU per thread's client, 2.6 s for the worker's 128 threads,
    most of it while a big batch first filled them (issue 16, docs/benchmarks.md "Fifth pass").
    """

    def __init__(self, *, timeout: float, connections_per_thread: int = 2) -> None:
        self.timeout = timeout
        self.connections_per_thread = connections_per_thread
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[httpx.Client] = []
        self._ssl_context: ssl.SSLContext | None = None

    def get(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            with self._lock:
                if self._ssl_context is None:
                    self._ssl_context = httpx.create_ssl_context()
                ssl_context = self._ssl_context
            client = make_client(
                timeout=self.timeout,
                max_connections=self.connections_per_thread,
                verify=ssl_context,
            )
            with self._lock:
                self._clients.append(client)
            self._local.client = client
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def parse_error_body(response: httpx.Response) -> tuple[Any, str]:
    """(provider code or None, provider message) from an error body of any documented shape.

    Handles a JSON object (`{"code": ..., "message": ...}`, `{"error": {...}}`, `{"error": "..."}`,
    `{"detail": ...}`), a bare JSON string (`"Invalid token"`), and plain text or HTML.
    """
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return None, text
    if isinstance(body, str):
        return None, body
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        error = body.get("error")
        if isinstance(error, dict):
            code = code if code is not None else error.get("code") or error.get("type")
            message = message or error.get("message") or error.get("details")
        elif isinstance(error, str) and not message:
            message = error
        if not message and body.get("detail") is not None:
            message = body["detail"]
        if not isinstance(message, str):
            message = json.dumps(body, ensure_ascii=False) if message is None else str(message)
        return code, message
    return None, text


def error_for_status(provider: str, response: httpx.Response) -> EngineError:
    """Map a non-2xx provider answer to an EngineError (seed 001's table plus documented cases).

    SiliconFlow code 20012 (model does not exist) -> configuration (`provider_config_error`);
    400/413/415/422 -> rejected image; 401 -> configuration; 402, or 403 saying "balance" (SiliconFlow
    code 30001) -> insufficient balance; other 403 -> configuration; 404 -> unavailable (wrong URL,
    model or endpoint id); 408/504/524 -> timeout; 429 -> busy; 503 saying "overloaded" (SiliconFlow
    code 50505) -> busy; other 5xx -> unavailable.
    """
    status = response.status_code
    code, message = parse_error_body(response)
    detail = f"{provider} HTTP {status}" + (f" code={code}" if code is not None else "")
    detail += f": {message}" if message else ""
    lowered = (message or "").lower()
    if code == SILICONFLOW_MODEL_MISSING_CODE or (
        status in (400, 404) and "model does not exist" in lowered
    ):
        kind = PROVIDER_CONFIG
    elif status in (400, 413, 415, 422):
        kind = PROVIDER_BAD_IMAGE
    elif status == 401:
        kind = PROVIDER_AUTH
    elif status == 402 or (
        status == 403
        and (code == SILICONFLOW_NO_BALANCE_CODE or any(w in lowered for w in _BALANCE_WORDS))
    ):
        kind = PROVIDER_NO_BALANCE
    elif status == 403:
        kind = PROVIDER_AUTH
    elif status in (408, 504, 524):
        kind = PROVIDER_TIMEOUT
    elif status == 429 or (
        status == 503
        and (code == SILICONFLOW_OVERLOADED_CODE or any(w in lowered for w in _OVERLOAD_WORDS))
    ):
        kind = PROVIDER_BUSY
    else:
        kind = PROVIDER_UNAVAILABLE
    return engine_error(kind, detail)


def error_for_transport(provider: str, exc: httpx.HTTPError) -> EngineError:
    """Map an httpx failure without a response: timeouts -> timeout, the rest -> unavailable."""
    if isinstance(exc, httpx.TimeoutException):
        return engine_error(PROVIDER_TIMEOUT, f"{provider}: {type(exc).__name__}: {exc}")
    return engine_error(PROVIDER_UNAVAILABLE, f"{provider}: {type(exc).__name__}: {exc}")


_NO_ANSWER = "Server disconnected without sending a response"
"""httpcore's message when the connection ended before a single byte of the answer."""


def closed_unanswered(exc: httpx.HTTPError, events: list[str]) -> bool:
    """Whether `exc` is a reused keep-alive connection closed before any answer: taken as the
    sign that the server never read the request, so that sending it once more is safe.

    `events` are the httpcore `trace` events of the request. A server may close an idle
    connection at any time (RFC 9112 §9.6; uvicorn after 5 s, nginx after 75 s): when it does so
    just as the pool hands that connection out (httpx keeps idle ones 5 s too), the request meets
    a closed socket: end of stream (FIN) or a reset (RST: the request arrived unread) before any
    answer. RFC 9110 §9.2.2 lets a client resend a non-idempotent request when it can tell the
    first was never applied; browsers take such a close of a reused connection as that sign. On
    a fresh connection it is not (the server may have read the request, then died), nor is a
    timeout (the server may be working), nor a close once an answer has begun.
    """
    if "connection.connect_tcp.started" in events:  # a fresh connection
        return False
    if "http11.receive_response_headers.complete" in events:  # an answer had begun
        return False
    if isinstance(exc, httpx.RemoteProtocolError):
        return _NO_ANSWER in str(exc)
    return isinstance(exc, httpx.ReadError | httpx.WriteError)


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    stream: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """`client.request` (or, with `stream`, an open streaming response the caller must close),
    sent once more when a reused keep-alive connection was closed before any answer
    (`closed_unanswered`). Raises httpx.HTTPError as httpx does; `kwargs` as `build_request`."""
    events: list[str] = []
    try:
        return _traced(client, method, url, stream, events, kwargs)
    except httpx.HTTPError as exc:
        if not closed_unanswered(exc, events):
            raise
        # the query of a result URL may carry a signature: not logged
        log.info(
            "%s %s: kept-alive connection closed unanswered; sent again", method, url.split("?")[0]
        )
    return _traced(client, method, url, stream, [], kwargs)


def _traced(
    client: httpx.Client,
    method: str,
    url: str,
    stream: bool,
    events: list[str],
    kwargs: dict[str, Any],
) -> httpx.Response:
    built = client.build_request(method, url, **kwargs)
    built.extensions["trace"] = lambda name, _info: events.append(name)
    return client.send(built, stream=stream)


def send(
    client: httpx.Client,
    provider: str,
    method: str,
    url: str,
    *,
    timeout: float | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request; any failure or non-2xx status raised as EngineError. `timeout` in seconds."""
    if timeout is not None:
        kwargs["timeout"] = httpx.Timeout(max(timeout, 0.001))
    try:
        response = request(client, method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise error_for_transport(provider, exc) from exc
    if response.is_error:
        raise error_for_status(provider, response)
    return response


def json_body(provider: str, response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; malformed JSON raises EngineError(provider_bad_result)."""
    try:
        return response.json()
    except ValueError as exc:
        raise engine_error(
            PROVIDER_BAD_RESULT, f"{provider}: malformed JSON: {response.text[:200]!r}"
        ) from exc


def download(
    client: httpx.Client,
    provider: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int = MAX_RESULT_BYTES,
    **kwargs: Any,
) -> tuple[bytes, str]:
    """GET `url` at once (result URLs expire); (body, Content-Type). Raises EngineError.

    `timeout` in seconds for each network operation; bodies over `max_bytes` are refused. A 4xx
    answer (expired or missing result) is provider_bad_result; 5xx, timeouts and network errors map
    as in `error_for_status` / `error_for_transport`.
    """
    try:
        response = request(
            client, "GET", url, stream=True, timeout=httpx.Timeout(max(timeout, 0.001)), **kwargs
        )
        try:
            if response.is_error:
                response.read()
                if response.is_client_error:  # expired or missing result: the result is lost
                    raise engine_error(
                        PROVIDER_BAD_RESULT,
                        f"{provider}: result download HTTP {response.status_code}: "
                        f"{response.text[:200]}",
                    )
                raise error_for_status(provider, response)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise engine_error(
                        PROVIDER_BAD_RESULT, f"{provider}: result larger than {max_bytes} bytes"
                    )
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
        finally:
            response.close()
    except httpx.HTTPError as exc:
        raise error_for_transport(provider, exc) from exc


def check_image(provider: str, data: bytes) -> str:
    """The MIME type of `data` if it is a complete JPEG, PNG or WebP image; else EngineError.

    The bytes are decoded in full (not only sniffed), so a truncated file is caught here.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        head = data[:32]
        raise engine_error(
            PROVIDER_BAD_RESULT, f"{provider}: result is not an image ({exc}); starts {head!r}"
        ) from exc
    if fmt not in _IMAGE_TYPES:
        raise engine_error(PROVIDER_BAD_RESULT, f"{provider}: unsupported result format {fmt}")
    return _IMAGE_TYPES[fmt]


def image_mime(data: bytes) -> str:
    """MIME type of input image bytes by their magic number (JPEG assumed when unknown)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


class InFlight:
    """A `threading.BoundedSemaphore` bounding one engine's concurrent calls.

    `slot(wait)` waits at most `wait` seconds for a place; when none frees in time the call fails
    with provider_busy rather than queueing past its own time limit.
    """

    def __init__(self, provider: str, limit: int) -> None:
        self.provider = provider
        self.limit = max(1, limit)
        self._semaphore = threading.BoundedSemaphore(self.limit)

    @contextmanager
    def slot(self, wait: float) -> Iterator[None]:
        if not self._semaphore.acquire(timeout=max(wait, 0.0)):
            raise engine_error(
                PROVIDER_BUSY, f"{self.provider}: all {self.limit} in-flight slots busy"
            )
        try:
            yield
        finally:
            self._semaphore.release()
