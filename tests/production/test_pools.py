"""Per-attempt overhead that the worker-throughput benchmark found (issue 16, docs/benchmarks.md):
no connection is opened again for each short transaction or S3 call, and a known user costs one
statement per request."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import event, select

from rekindle.api.deps import current_user
from rekindle.config import Settings
from rekindle.db import make_engine
from rekindle.migrate import upgrade
from rekindle.models import User
from rekindle.runtime import Runtime
from rekindle.storage.s3 import S3Store
from tests.support.services import moto_s3, postgres_database


def test_postgres_pool_keeps_every_connection_it_opened() -> None:
    """40 connections used at once are all kept when returned: the next burst reuses them instead
    of opening new PostgreSQL backends (with pool_size 10 + overflow 40, 30 were closed)."""
    with postgres_database() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=50)
        opened: list[Any] = []
        event.listen(engine, "connect", lambda *_: opened.append(1))
        try:
            held = [engine.connect() for _ in range(40)]
            for connection in held:
                connection.close()
            assert engine.pool.checkedin() == 40  # type: ignore[attr-defined]
            again = [engine.connect() for _ in range(40)]
            for connection in again:
                connection.close()
            assert len(opened) == 40
        finally:
            engine.dispose()


def test_database_pool_size_bounds_the_connections_of_a_process(tmp_path: Path) -> None:
    """At most `DATABASE_POOL_SIZE` connections, so that several worker processes per host fit
    PostgreSQL's max_connections: a fourth checkout waits until one of three is returned."""
    with postgres_database() as url:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            rekindle_data_dir=tmp_path,
            database_url=url,
            database_pool_size=3,
        )
        runtime = Runtime(settings)
        try:
            held = [runtime.engine.connect() for _ in range(3)]
            with ThreadPoolExecutor(1) as pool:
                fourth = pool.submit(runtime.engine.connect)
                time.sleep(0.5)
                assert not fourth.done()
                held.pop().close()
                held.append(fourth.result(timeout=10))
            for connection in held:
                connection.close()
        finally:
            runtime.close()


def test_s3_pool_covers_the_worker_threads(tmp_path: Path) -> None:
    with moto_s3() as endpoint:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            rekindle_data_dir=tmp_path,
            s3_bucket="b",
            s3_endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            worker_concurrency=128,
        )
        store = Runtime(settings).store
        assert isinstance(store, S3Store)
        assert store.client.meta.config.max_pool_connections >= 128


def test_a_known_user_costs_one_statement(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, rekindle_data_dir=tmp_path)  # type: ignore[call-arg]
    upgrade(settings.sqlalchemy_url)
    runtime = Runtime(settings)
    try:
        token = runtime.verifier.issue_local("alice", "alice@example.org", 60)
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
        first = current_user(runtime, credentials)  # created on first sight, with its credits
        assert first.credit_balance == settings.free_credits
        statements: list[str] = []
        event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        again = current_user(runtime, credentials)
        assert again.id == "alice"
        assert [s.split()[0] for s in statements if s.split()[0] != "BEGIN"] == ["SELECT"]
        # a changed email is still recorded
        renamed = runtime.verifier.issue_local("alice", "new@example.org", 60)
        user = current_user(
            runtime, HTTPAuthorizationCredentials(scheme="Bearer", credentials=renamed)
        )
        assert user.email == "new@example.org"
        with runtime.sessions() as session:
            assert session.scalar(select(User.email).where(User.id == "alice")) == "new@example.org"
    finally:
        runtime.close()
