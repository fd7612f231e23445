"""A running Rekindle: the API served by uvicorn in a thread, a `rekindle worker` process, and the
database, queue and store of one configuration (embedded or production)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import uvicorn

from rekindle.app import create_app
from rekindle.config import Settings
from rekindle.engines import registry
from rekindle.migrate import upgrade
from rekindle.runtime import Runtime
from tests.support.services import postgres_database, redis_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_api(settings: Settings) -> Iterator[tuple[str, Runtime]]:
    """Serve `create_app(settings)` on 127.0.0.1; yields (base URL, the app's runtime)."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app.state.runtime
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.runtime.close()


@contextmanager
def worker_process(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `rekindle worker` process with `env` (settings as environment variables)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rekindle", "worker", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if os.environ.get("REKINDLE_TEST_WORKER_LOGS") != "1" else None,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    return {key.upper(): str(value) for key, value in values.items() if value is not None}


@dataclass
class Stack:
    """One configuration of Rekindle, running. `kind` is "embedded" or "production"."""

    kind: str
    settings: Settings
    env: dict[str, str]
    base_url: str
    runtime: Runtime
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def token(self, user: str, email: str | None = None, ttl: int = 3600) -> str:
        return self.runtime.verifier.issue_local(user, email, ttl)

    def auth(self, user: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def upload(self, path: Path, user: str = "alice") -> dict[str, Any]:
        with path.open("rb") as handle:
            response = self.client.post(
                "/api/v1/photos", headers=self.auth(user), files={"file": (path.name, handle)}
            )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def restore(self, photo_id: str, user: str = "alice", **options: Any) -> httpx.Response:
        return self.client.post(
            f"/api/v1/photos/{photo_id}/restore", headers=self.auth(user), json=options or None
        )

    def photo(self, photo_id: str, user: str = "alice") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/photos/{photo_id}", headers=self.auth(user))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait_for_photo(
        self,
        photo_id: str,
        statuses: tuple[str, ...] = ("ready", "uploaded"),
        user: str = "alice",
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Poll until the photo leaves `processing` into one of `statuses`; returns the photo."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            photo = self.photo(photo_id, user)
            seen.append(photo["status"])
            attempts = photo["restore_attempts"]
            settled = not attempts or attempts[0]["status"] in ("completed", "failed")
            if photo["status"] in statuses and settled:
                return photo
            time.sleep(0.1)
        raise AssertionError(f"photo {photo_id} did not settle; statuses seen: {seen[-5:]}")

    def object_keys(self) -> set[str]:
        """Every key in the store (to prove nothing was left behind)."""
        if self.settings.s3_bucket:
            s3 = boto3.client(
                "s3",
                endpoint_url=self.settings.s3_endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.settings.s3_bucket)
            return {obj["Key"] for page in pages for obj in page.get("Contents", [])}
        root = self.settings.data_dir / "objects"
        return {
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        }


def stack_settings(
    kind: str,
    data_dir: Path,
    *,
    postgres_url: str | None = None,
    redis_url: str | None = None,
    s3_endpoint: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "rekindle_data_dir": str(data_dir),
        "rekindle_engines_allowed": "classic",
        "worker_concurrency": 4,
        "sweep_interval_seconds": 1,
        "log_level": "WARNING",
        # Suites upload and restore hundreds of times a minute; tests/production tests the limits.
        "rate_limit_upload_per_minute": 100_000,
        "rate_limit_restore_per_minute": 100_000,
        "rate_limit_animate_per_minute": 100_000,
    }
    if kind == "production":
        bucket = f"rekindle-test-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=bucket)
        values.update(
            database_url=postgres_url,
            redis_url=redis_url,
            s3_bucket=bucket,
            s3_endpoint_url=s3_endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
    values.update(overrides)
    return values


@contextmanager
def running_stack(
    values: dict[str, Any], kind: str, *, worker: bool = True, worker_args: tuple[str, ...] = ()
) -> Iterator[Stack]:
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    registry.reset()
    upgrade(settings.sqlalchemy_url)
    env = settings_env(values)
    with serve_api(settings) as (base_url, runtime):
        stack = Stack(kind, settings, env, base_url, runtime)
        if worker:
            with worker_process(env, "--concurrency=4", *worker_args):
                yield stack
        else:
            yield stack
        stack.client.close()


@contextmanager
def open_stack(kind: str, data_dir: Path, s3_endpoint: str, **overrides: Any) -> Iterator[Stack]:
    """Rekindle running with a real worker process: `embedded` (SQLite, local folder, SQLite
    broker) or `production` (a fresh PostgreSQL database, Redis, S3 over HTTP)."""
    if kind == "embedded":
        with running_stack(stack_settings(kind, data_dir, **overrides), kind) as running:
            yield running
        return
    with postgres_database() as database_url:
        values = stack_settings(
            kind,
            data_dir,
            postgres_url=database_url,
            redis_url=redis_url(),
            s3_endpoint=s3_endpoint,
            **overrides,
        )
        with running_stack(values, kind) as running:
            yield running
