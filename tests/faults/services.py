"""Throwaway Redis, PostgreSQL and S3 servers that a fault test may stop and restart.

The machine's own PostgreSQL (5432) and Redis (6379) serve every other test, so the faults are
injected into private instances on free ports: a `redis-server` child, a PostgreSQL cluster made with
`initdb` in a temporary folder, and moto's S3 server in this process (optionally behind a proxy that
starts failing after a chosen request, for a fault in the middle of one operation).
"""

from __future__ import annotations

import glob
import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from rekindle.models import AnimationAttempt, OrphanObject, Photo, RestoreAttempt
from tests.support.stack import Stack, free_port


def _wait(check: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


class OwnRedis:
    """`redis-server` on a free port. `persistent=True` keeps an append-only file (fsync always)
    in a temporary folder, so a restart keeps what was queued; else nothing survives a restart."""

    def __init__(self, *, persistent: bool) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.persistent = persistent
        self.dir = tempfile.mkdtemp(prefix="rekindle-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        args += ["--save", ""]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        _wait(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.process.wait(timeout=10)
        self.process = None

    def queued(self, queue: str = "rekindle") -> int:
        """Messages waiting in the Celery queue (a Redis list)."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            return int(client.llen(queue))
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def own_redis(*, persistent: bool) -> Iterator[OwnRedis]:
    server = OwnRedis(persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.close()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"PostgreSQL's {name} is not installed")
    return path


class OwnPostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, trust auth, fsync off) on a
    free port; `restart()` stops it (fast mode: open connections are cut) and starts it again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="rekindle-pg-"))
        self.data = self.root / "data"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.root, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [
                *self._as_postgres,
                *(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust"),
                *("-U", "postgres", "-E", "UTF8", "--no-sync"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, _pg_bin("pg_ctl"), "-D", str(self.data), "-w", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._ctl("-o", options, "-l", str(self.root / "log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def close(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


class OwnS3:
    """moto's S3 server on a fixed free port, stoppable and restartable. Objects live in this
    process's moto backend, so they survive a stop/start, as a real store's would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: Any = None
        self.bucket = f"rekindle-fault-{uuid.uuid4().hex[:8]}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


@contextmanager
def own_s3() -> Iterator[OwnS3]:
    server = OwnS3()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class FlakyS3Proxy:
    """A plain HTTP proxy in front of an S3 endpoint (`upstream`) that can be told to fail: after
    `fail_after(method, path_part)` it relays requests until one with that method whose path holds
    `path_part` has been answered by S3, then answers every request with 503 `ServiceUnavailable`
    (S3's error body) until `heal()`. Lets a test make S3 fail between two requests of one
    operation, e.g. after an upload's original is stored and before its thumbnail is."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.failing = False
        self.tripped_by: str | None = None
        self._trigger: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _relay_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_after(self, method: str, path_part: str) -> None:
        with self._lock:
            self._trigger = (method, path_part)

    def heal(self) -> None:
        with self._lock:
            self.failing, self._trigger = False, None

    def _passed(self, method: str, path: str, status: int) -> None:
        with self._lock:
            trigger = self._trigger
            if trigger and method == trigger[0] and trigger[1] in path and status < 300:
                self.failing, self.tripped_by, self._trigger = True, path, None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "te", "upgrade"}
_S3_UNAVAILABLE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
    b"<Message>Service is unable to handle request.</Message></Error>"
)


def _relay_handler(proxy: FlakyS3Proxy) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered for us

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _relay(self) -> None:
            body = self._body()
            if proxy.failing:
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(_S3_UNAVAILABLE)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(_S3_UNAVAILABLE)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if "Transfer-Encoding" in self.headers:
                headers["Content-Length"] = str(len(body))
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                answer = response.getheaders()
            finally:
                upstream.close()
            proxy._passed(self.command, self.path, response.status)
            self.send_response_only(response.status)
            for name, value in answer:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    return Relay


@contextmanager
def flaky_s3_proxy(upstream: str) -> Iterator[FlakyS3Proxy]:
    proxy = FlakyS3Proxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- what every fault must leave behind ------------------------------------------------------------


def referenced_keys(stack: Stack) -> set[str]:
    """Every object key a row points at (photos, restore and animation attempts)."""
    with stack.runtime.sessions() as session:
        found: set[str | None] = set()
        for photo in session.scalars(select(Photo)):
            found |= {
                photo.original_key,
                photo.thumbnail_key,
                photo.processed_key,
                photo.display_key,
            }
        for attempt in session.scalars(select(RestoreAttempt)):
            found |= {attempt.s3_key, attempt.thumbnail_key}
        for animation in session.scalars(select(AnimationAttempt)):
            found |= {animation.preview_key, animation.thumbnail_key, animation.result_key}
    return {key for key in found if key}


def assert_no_orphans(stack: Stack) -> None:
    """Every stored object belongs to a row, and every row's objects exist."""
    stored = stack.object_keys()
    referenced = referenced_keys(stack)
    assert stored - referenced == set(), f"orphan objects: {sorted(stored - referenced)[:5]}"
    assert referenced - stored == set(), f"missing objects: {sorted(referenced - stored)[:5]}"


def assert_nothing_stuck(stack: Stack) -> None:
    """No photo `processing` and no attempt `pending`/`processing`."""
    with stack.runtime.sessions() as session:
        photos = [p.status for p in session.scalars(select(Photo))]
        attempts = [a.status for a in session.scalars(select(RestoreAttempt))]
        stuck = [
            (p.id, [(a.status, a.error_code) for a in p.restore_attempts])
            for p in session.scalars(select(Photo).where(Photo.status == "processing"))
        ]
    assert "processing" not in photos, (photos, attempts, stuck[:5])
    assert not {"pending", "processing"} & set(attempts), attempts


def ledger(stack: Stack, user: str) -> tuple[int, list[dict[str, Any]]]:
    """The user's balance and every ledger entry, read through GET /api/v1/me/credits."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = stack.client.get("/api/v1/me/credits", headers=stack.auth(user), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return body["credit_balance"], entries


def assert_credits_settled(stack: Stack, user: str) -> int:
    """Each attempt of `user` was charged once; each failed one refunded exactly once, and no other
    was; the balance is the sum of the ledger. Returns the balance (credits)."""
    balance, entries = ledger(stack, user)
    assert balance == sum(entry["delta"] for entry in entries)
    references = [entry["reference"] for entry in entries]
    assert len(references) == len(set(references)), "a ledger reference recorded twice"
    with stack.runtime.sessions() as session:
        attempts = list(
            session.scalars(select(RestoreAttempt).join(Photo).where(Photo.owner_id == user))
        )
    for attempt in attempts:
        charged = f"charge:{attempt.id}" in references
        refunded = f"refund:{attempt.id}" in references
        assert charged, f"attempt {attempt.id} was never charged"
        assert refunded == (attempt.status == "failed"), (attempt.status, refunded)
    return balance


def recorded_orphans(stack: Stack) -> dict[str, str | None]:
    """The keys recorded in `orphan_objects` (waiting for the sweep), with their reasons."""
    with stack.runtime.sessions() as session:
        return {row.key: row.reason for row in session.scalars(select(OrphanObject))}
