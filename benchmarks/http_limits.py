"""Benchmark: the HTTP server `rekindle serve` runs, before and after issue 12, side by side.

Servers, each in this process on an ephemeral port, serving the embedded app:
- `httptools` (before): uvicorn's default parser, as `rekindle serve` ran it;
- `h11-guarded` (now): `rekindle.server.server_config` (h11, `MAX_HEADER_BYTES` 64 KiB,
  `HTTP_READ_TIMEOUT_SECONDS`, here 2 s to keep the run short).

Measured for each:
- a client sends a 64 MB header: the status it gets, seconds until the answer, megabytes the
  server let it send, and the slowest `/healthz` answer another client got meanwhile;
- a client sends half a request line and stops: seconds until the server closes (or "open" after
  `--wait` seconds);
- `/healthz` over one keep-alive connection: requests per second (median of 3 runs of 1000).

Run:  uv run python benchmarks/http_limits.py [--wait 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from rekindle.app import create_app
from rekindle.config import Settings
from rekindle.migrate import upgrade
from rekindle.server import server_config

READ_TIMEOUT = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(kind: str, data_dir: Path) -> Iterator[int]:
    settings = Settings(
        rekindle_data_dir=data_dir,
        database_url=None,
        redis_url=None,
        s3_bucket=None,
        http_read_timeout_seconds=READ_TIMEOUT,
    )
    upgrade(settings.sqlalchemy_url)
    app = create_app(settings)
    port = _free_port()
    options: dict[str, Any] = {"log_level": "critical", "lifespan": "off"}
    if kind == "httptools":
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, http="httptools", timeout_keep_alive=75, **options
        )
    else:
        config = server_config(app, settings, host="127.0.0.1", port=port, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.runtime.close()


def huge_header(port: int, megabytes: int = 64) -> dict[str, object]:
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get(f"http://127.0.0.1:{port}/healthz")
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    sent = 0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Huge: ")
        chunk = b"a" * 65536
        try:
            while sent < megabytes * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
        except OSError:
            pass
        try:
            answer = sock.recv(200)
        except OSError:
            answer = b""
    elapsed = time.perf_counter() - started
    stop.set()
    prober.join()
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "sent_mb": round(sent / 1e6, 2),
        "healthz_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
    }


def stalled_request_line(port: int, wait: float) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(b"GET /hea")
        started = time.perf_counter()
        try:
            while sock.recv(4096):
                pass
        except TimeoutError:
            return f"open after {wait:g} s"
        return f"closed after {time.perf_counter() - started:.1f} s"


def healthz_rate(port: int, count: int = 1000) -> float:
    rates = []
    with httpx.Client() as client:
        client.get(f"http://127.0.0.1:{port}/healthz")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(count):
                client.get(f"http://127.0.0.1:{port}/healthz")
            rates.append(count / (time.perf_counter() - started))
    return round(statistics.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        "| server | 64 MB header | /healthz meanwhile (max) | stalled request line | /healthz req/s |"
    )
    print("|---|---|---|---|---|")
    for kind in ("httptools", "h11-guarded"):
        with tempfile.TemporaryDirectory() as tmp, serving(kind, Path(tmp)) as port:
            header = huge_header(port)
            stalled = stalled_request_line(port, args.wait)
            rate = healthz_rate(port)
        print(
            f"| {kind} | {header['status']} after {header['seconds']} s, {header['sent_mb']} MB "
            f"sent | {header['healthz_max_ms']} ms | {stalled} | {rate} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
