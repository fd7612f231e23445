"""Database engine and sessions (SQLAlchemy 2), for SQLite and PostgreSQL alike.

Services take a `Session` and never commit; the owner of the unit of work commits: the request
dependency in the API (`rekindle.api.deps.db_session`) or `session_scope` in worker tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

T = TypeVar("T")

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use rekindle.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


IDLE_PING_SECONDS = 5.0
"""A pooled connection left unused this long (seconds) is pinged before it is handed out."""


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for `IDLE_PING_SECONDS`; a dead
    one is replaced (a `DisconnectionError` from the checkout event: the pool connects anew).

    SQLAlchemy's `pool_pre_ping` pings at every checkout: two round trips of each restoration,
    whose connections are busy every few milliseconds (issue 16). A connection that dies in use
    (the server restarted meanwhile) fails its statement instead; SQLAlchemy then invalidates
    every connection of the pool opened before, and the caller's handling of an unreachable
    database applies (the API's 503 `database_unavailable`, the worker's retry or re-queue).
    "Dealing with Disconnects", SQLAlchemy 2 docs (pessimistic and optimistic handling)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc


def make_engine(url: str, *, pool_size: int) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys and a busy timeout so that the API and
    the worker (two processes) can share one file; PostgreSQL a pool of at most `pool_size`
    connections (`DATABASE_POOL_SIZE`; SQLite ignores it), the most recently used handed out
    first, so that under light load the others stay idle (and are pinged before their next use,
    `_ping_idle_connections`) rather than all ageing a little."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # Up to 50 connections per process by default (`DATABASE_POOL_SIZE`): more than the 40 threads Starlette runs
        # sync endpoints on (anyio's default limiter) and the worker's default 32 threads, so a
        # request or task never waits for the pool (an upload holds its connection while the file
        # is validated and stored). PostgreSQL's max_connections must cover the pools of every
        # API replica and worker. All are kept once opened (no overflow): an overflow connection
        # is closed as soon as it is returned to a full pool, so a busy worker opened a new
        # PostgreSQL connection (a backend process, TCP and authentication) for most of its short
        # transactions (issue 16, docs/benchmarks.md "Worker throughput"). Connections still
        # open lazily.
        kwargs.update(pool_size=pool_size, max_overflow=0, pool_use_lifo=True)
    engine = create_engine(url, **kwargs)
    _ping_idle_connections(engine)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (so BEGIN IMMEDIATE works).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # Take the write lock at BEGIN: read-then-write transactions cannot deadlock on upgrade.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached (server down or restarting, connection
    cut): an `OperationalError`, or a `DBAPIError` whose connection SQLAlchemy invalidated."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def retry_while_unreachable(
    factory: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    within_seconds: float,
    what: str = "transaction",
    first_wait: float = 0.25,
    max_wait: float = 5.0,
) -> T:
    """Run `work(session)` in one `session_scope` transaction and return its result; while the
    database is unreachable (`database_unreachable`), roll back and run the whole of `work` again
    in a fresh transaction after a wait of `first_wait` seconds, doubling up to `max_wait` seconds,
    for as long as `within_seconds` seconds from the first try allow. A warning is logged per wait.

    For the final write of a finished job, so that a database restart or failover of a few seconds
    does not lose its result. `work` must be safe to run again, including after a commit whose
    answer was lost with the connection (it may have been applied): make it a conditional update
    that also recognises its own earlier success.

    Raises the last error once `within_seconds` have passed (0: no retry at all), and any other
    exception at once, unretried. Blocks the calling thread while it waits."""
    deadline = time.monotonic() + within_seconds
    wait = first_wait
    tries = 1
    while True:
        try:
            with session_scope(factory) as session:
                return work(session)
        except DBAPIError as exc:
            left = deadline - time.monotonic()
            if not database_unreachable(exc) or left <= 0:
                raise
            pause = min(wait, max_wait, left)
            log.warning(
                "database unreachable while recording %s (try %d, %s); trying again in %.2f s, "
                "%.0f s left",
                what,
                tries,
                type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
                pause,
                left,
            )
            time.sleep(pause)
            wait = min(wait * 2, max_wait)
            tries += 1
