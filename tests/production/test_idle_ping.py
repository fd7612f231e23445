"""Pooled PostgreSQL connections are pinged only after sitting idle (issue 16): a busy worker's
transactions make no extra round trip, a dead idle connection is replaced before use, and a
connection that died while busy fails one statement as "unreachable" (the callers' retry), after
which the pool reconnects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from rekindle import db
from rekindle.db import database_unreachable, make_engine
from tests.support.services import postgres_database


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int], str]]:
    """An engine on a fresh database, with every ping the pool makes counted."""
    with postgres_database() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=5)
        pings: list[int] = []
        real_ping = engine.dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            pings.append(1)
            return real_ping(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counted)
        try:
            yield engine, pings, url
        finally:
            engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.begin() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_busy_connection_is_not_pinged(engine: tuple[Engine, list[int], str]) -> None:
    """Ten short transactions in a row: one connection, no ping (pool_pre_ping made ten)."""
    pool, pings, _ = engine
    pids = {_backend_pid(pool) for _ in range(10)}
    assert len(pids) == 1
    assert pings == []


def test_an_idle_connection_is_pinged_and_replaced_when_dead(
    engine: tuple[Engine, list[int], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, pings, url = engine
    first = _backend_pid(pool)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every returned connection counts as idle
    assert _backend_pid(pool) == first and len(pings) == 1  # pinged, alive, kept
    _terminate(url, first)  # the server dropped it while it sat in the pool
    assert _backend_pid(pool) != first  # its ping failed: a new connection, no error
    assert len(pings) == 2


def test_a_connection_that_died_busy_fails_once_as_unreachable(
    engine: tuple[Engine, list[int], str],
) -> None:
    """No ping for recently used connections: after a server restart (here: both backends of the
    pool terminated) the next statement fails, and the error reads as an unreachable database
    (the API's 503, the worker's re-queue); SQLAlchemy then replaces the pool's other old
    connection too, so the transactions after it succeed."""
    pool, _, url = engine
    held = [pool.connect() for _ in range(2)]
    old = set()
    for connection in held:
        old.add(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        connection.close()
    for pid in old:
        _terminate(url, pid)
    with pytest.raises(DBAPIError) as failed, pool.begin() as connection:
        connection.execute(text("SELECT 1"))
    assert database_unreachable(failed.value)
    held = [pool.connect() for _ in range(2)]
    new = {connection.execute(text("SELECT pg_backend_pid()")).scalar_one() for connection in held}
    for connection in held:
        connection.close()
    assert len(new) == 2 and not new & old
