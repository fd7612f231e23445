"""The server `rekindle serve` runs (rekindle.server): oversized headers get 431 before they are
buffered whole, stalled requests are cut after the read timeout, and an upload without valid
credentials (or over its rate limit) is answered before its body is read."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

from rekindle.api.upload_gate import UPLOAD_ROUTES
from rekindle.app import create_app
from rekindle.auth.sessions import revoke_session, start_session
from rekindle.config import Settings
from rekindle.db import session_scope
from rekindle.migrate import upgrade
from rekindle.models.deleted_subject import DeletedSubject, subject_hash
from rekindle.runtime import Runtime
from rekindle.server import server_config
from rekindle.users import ensure_user
from tests.support.stack import free_port

READ_TIMEOUT = 1.0


@dataclass
class Served:
    port: int
    runtime: Runtime
    app: FastAPI

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str) -> str:
        return self.runtime.verifier.issue_local(user, None, 3600)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("http-limits")
    settings = Settings(
        rekindle_data_dir=data_dir,
        database_url=None,
        redis_url=None,
        s3_bucket=None,
        http_read_timeout_seconds=READ_TIMEOUT,
        rate_limit_upload_per_minute=3,
    )
    upgrade(settings.sqlalchemy_url)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield Served(port, app.state.runtime, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def read_response(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection or `timeout` passes."""
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
            break
    return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> dict[str, object]:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def test_oversized_headers_get_431_before_they_are_read_whole(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        sent = 0
        filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            while sent < 8 * 1024 * 1024:  # the server answers long before 8 MB
                sock.sendall(filler)
                sent += len(filler)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = read_response(sock)
    assert status_of(response) == 431
    assert body_of(response)["error"]["code"] == "headers_too_large"  # type: ignore[index]
    assert sent < 8 * 1024 * 1024
    assert httpx.get(served.url + "/healthz").status_code == 200


def test_headers_under_the_limit_are_served(served: Served) -> None:
    response = httpx.get(served.url + "/healthz", headers={"X-Big": "b" * 60_000})
    assert response.status_code == 200


def test_headers_that_trickle_in_get_408(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: local")
        started = time.monotonic()
        response = read_response(sock, timeout=READ_TIMEOUT + 5)
        waited = time.monotonic() - started
    assert status_of(response) == 408
    assert waited < READ_TIMEOUT + 3


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with served.connect() as sock:
        started = time.monotonic()
        assert read_response(sock, timeout=READ_TIMEOUT + 5) == b""
        assert time.monotonic() - started < READ_TIMEOUT + 3


def _upload_head(token: str | None, length: int, boundary: str = "b0undary") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST /api/v1/photos HTTP/1.1\r\nHost: localhost\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()


def test_a_stalled_upload_body_is_cut(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(_upload_head(served.token("stall"), 10_000_000) + b"\xff" * 1000)
        started = time.monotonic()
        read_response(sock, timeout=READ_TIMEOUT + 10)
        # The server gave up on the body: the connection is closed (no 201, no endless wait).
        assert time.monotonic() - started < READ_TIMEOUT + 5
        with pytest.raises(OSError):
            for _ in range(100):
                sock.sendall(b"\xff" * 65536)


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_unauthenticated_upload_is_answered_while_the_client_still_sends(
    served: Served, token: str | None
) -> None:
    with served.connect() as sock:
        # Declares 40 MB, sends 64 KB, then waits for an answer without sending more.
        sock.sendall(_upload_head(token, 40 * 1024 * 1024) + b"\xff" * 65536)
        started = time.monotonic()
        response = read_response(sock, timeout=READ_TIMEOUT / 2)
        assert time.monotonic() - started < READ_TIMEOUT / 2 + 0.2
    assert status_of(response) == 401, response[:300]


def _revoked_session_token(served: Served) -> str:
    """A token whose sign-in session was revoked (the user signed out)."""
    runtime = served.runtime
    with session_scope(runtime.sessions) as session:
        ensure_user(session, "signed-out", None, runtime.settings)
        auth_session, cookie_token = start_session(session, "signed-out", runtime.settings)
        session_id = str(auth_session.id)
    with session_scope(runtime.sessions) as session:
        revoke_session(session, cookie_token)
    return runtime.verifier.issue_local("signed-out", None, 3600, session_id=session_id)


def _deleted_account_token(served: Served) -> str:
    """A still-unexpired token of an account that was deleted (only its tombstone is left)."""
    with session_scope(served.runtime.sessions) as session:
        session.add(DeletedSubject(subject_sha256=subject_hash("deleted-account")))
    return served.token("deleted-account")


@pytest.mark.parametrize(
    ("make_token", "code"),
    [(_revoked_session_token, "session_revoked"), (_deleted_account_token, "account_deleted")],
)
def test_an_ended_session_or_deleted_account_is_refused_before_the_body(
    served: Served, make_token: Callable[[Served], str], code: str
) -> None:
    # The token's signature is valid: only the database knows it no longer works.
    with served.connect() as sock:
        sock.sendall(_upload_head(make_token(served), 40 * 1024 * 1024) + b"\xff" * 65536)
        started = time.monotonic()
        response = read_response(sock, timeout=READ_TIMEOUT / 2)
        assert time.monotonic() - started < READ_TIMEOUT / 2 + 0.2
    assert status_of(response) == 401, response[:300]
    assert body_of(response)["error"]["code"] == code  # type: ignore[index]


def test_every_route_that_takes_a_file_is_gated(served: Served) -> None:
    # A multipart route missing from UPLOAD_ROUTES would read a stranger's whole body before its
    # 401 (POST /api/v1/scans once was).
    spec = served.app.openapi()
    multipart = {
        path
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method == "post"
        and "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    assert "/api/v1/photos" in multipart
    assert multipart == set(UPLOAD_ROUTES)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def test_rate_limit_is_counted_once_and_answered_before_the_body(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.token('limited')}"}
    for _ in range(3):  # RATE_LIMIT_UPLOAD_PER_MINUTE=3: counted once per upload, not twice
        response = httpx.post(
            served.url + "/api/v1/photos", headers=headers, files={"file": ("a.jpg", _jpeg())}
        )
        assert response.status_code == 201, response.text
    with served.connect() as sock:
        sock.sendall(_upload_head(served.token("limited"), 40 * 1024 * 1024) + b"\xff" * 65536)
        response = read_response(sock, timeout=READ_TIMEOUT / 2)
    assert status_of(response) == 429
    assert body_of(response)["error"]["code"] == "rate_limited"  # type: ignore[index]


def test_after_an_early_answer_the_body_is_drained_only_up_to_the_linger_limit(
    served: Served,
) -> None:
    with served.connect() as sock:
        sock.sendall(_upload_head(None, 40 * 1024 * 1024))
        response = read_response(sock, timeout=READ_TIMEOUT / 2)
        assert status_of(response) == 401
        sent = 0
        with pytest.raises(OSError):
            while sent < 40 * 1024 * 1024:
                sock.sendall(b"\xff" * 65536)
                sent += 65536
    # The server stopped reading a little after LINGER_BYTES (plus what the socket buffers hold).
    assert sent < 16 * 1024 * 1024
