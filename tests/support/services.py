"""Reach the real services the tests run against, or say clearly why they cannot.

With `REKINDLE_REQUIRE_SERVICES=1` (CI sets it) a missing PostgreSQL or Redis fails the run instead
of skipping the tests that need it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from rekindle.config import Settings
    from rekindle.storage.s3 import S3Store

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_PHOTOS = REPO_ROOT.parent / "shared" / "photos"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(what: str, why: Exception) -> None:
    message = f"{what} is not reachable ({why}); start it (see README) to run these tests"
    if os.environ.get("REKINDLE_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def shared_photo(relative: str) -> Path:
    """A photo from ../shared/photos, or skip when the shared folder is absent."""
    path = SHARED_PHOTOS / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared photo set lives beside the repository")
    return path


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; yields its URL and drops it afterwards."""
    import psycopg

    name = f"rekindle_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def empty_database_settings(kind: str, data_dir: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty (unmigrated) database of `kind` (`sqlite`: a file under
    `data_dir`; `postgresql`: a database of its own, dropped afterwards), objects in `data_dir`."""
    from rekindle.config import Settings

    with postgres_database() if kind == "postgresql" else nullcontext() as database_url:
        yield Settings(  # type: ignore[call-arg]
            _env_file=None, rekindle_data_dir=str(data_dir), database_url=database_url
        )


@contextmanager
def migrated_sessions(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions (a `sessionmaker`) on the database at `url` (a SQLAlchemy URL), migrated to the
    newest schema; the engine is disposed afterwards."""
    from rekindle.db import make_engine, make_sessionmaker
    from rekindle.migrate import upgrade

    upgrade(url)
    engine = make_engine(url, pool_size=50)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextmanager
def postgres_sessions() -> Iterator[sessionmaker[Session]]:
    """`migrated_sessions` on a fresh PostgreSQL database (`postgres_database`), dropped after."""
    with (
        postgres_database() as url,
        migrated_sessions(url.replace("postgresql://", "postgresql+psycopg://")) as sessions,
    ):
        yield sessions


def s3_store(endpoint: str, bucket: str, public_endpoint_url: str | None = None) -> S3Store:
    """An `S3Store` on a test S3 endpoint (moto's server) with moto's test credentials; the
    bucket is not created."""
    from rekindle.storage.s3 import S3Store

    return S3Store(
        bucket,
        region="us-east-1",
        endpoint_url=endpoint,
        access_key_id="test",
        secret_access_key="test",
        ttl_seconds=60,
        cloudfront_domain=None,
        public_endpoint_url=public_endpoint_url,
    )


def redis_url() -> str:
    """The test Redis database, emptied; or skip/fail when Redis is down."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server over HTTP on an ephemeral port; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
