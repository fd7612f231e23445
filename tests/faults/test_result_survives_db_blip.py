"""PostgreSQL away at the very moment a worker records a finished restoration: the result is already
in object storage, the completion write fails, and the worker tries it again
(`rekindle.db.retry_while_unreachable`, `RESULT_WRITE_RETRY_SECONDS`) until the database is back.
The user gets the result, charged once and never refunded; nothing is stuck or orphaned.

The helper itself is tested first against a private PostgreSQL stopped and started again."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from rekindle.db import make_engine, make_sessionmaker, retry_while_unreachable
from rekindle.storage import keys
from tests.engines.fakes import FakeSiliconFlow
from tests.faults.conftest import fault_stack, provider_settings
from tests.faults.services import (
    OwnPostgres,
    assert_credits_settled,
    assert_no_orphans,
    assert_nothing_stuck,
    ledger,
    own_postgres,
    own_redis,
)
from tests.support.services import shared_photo
from tests.support.stack import worker_process

FREE_CREDITS = 10


def _wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- the helper, against a real PostgreSQL ---------------------------------------------------------


@pytest.fixture(scope="module")
def probe_db() -> Iterator[tuple[OwnPostgres, Engine, sessionmaker[Session]]]:
    with own_postgres() as postgres:
        engine = make_engine(
            postgres.url.replace("postgresql://", "postgresql+psycopg://"), pool_size=50
        )
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (n integer NOT NULL)"))
        try:
            yield postgres, engine, make_sessionmaker(engine)
        finally:
            engine.dispose()


def _probe_rows(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT n FROM probe ORDER BY n"))]


def test_helper_waits_for_the_database_to_come_back(
    probe_db: tuple[OwnPostgres, Engine, sessionmaker[Session]],
) -> None:
    postgres, engine, sessions = probe_db
    calls: list[float] = []

    def insert(session: Session) -> str:
        calls.append(time.monotonic())
        session.execute(text("INSERT INTO probe (n) VALUES (1)"))
        return "written"

    assert retry_while_unreachable(sessions, insert, within_seconds=5) == "written"
    postgres.stop()  # the pool's connections are cut; new ones are refused
    restarter = threading.Timer(1.5, postgres.start)
    restarter.start()
    try:
        started = time.monotonic()
        assert retry_while_unreachable(sessions, insert, within_seconds=30) == "written"
        took = time.monotonic() - started
    finally:
        restarter.join()
    assert len(calls) >= 3, calls  # the first try, at least one failed try, the one that worked
    assert 1.5 <= took < 10, took
    assert _probe_rows(engine) == [1, 1]  # each transaction committed exactly once


def test_helper_gives_up_after_its_window(
    probe_db: tuple[OwnPostgres, Engine, sessionmaker[Session]],
) -> None:
    postgres, engine, sessions = probe_db
    calls: list[float] = []

    def insert(session: Session) -> None:
        calls.append(time.monotonic())
        session.execute(text("INSERT INTO probe (n) VALUES (2)"))

    postgres.stop()
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            retry_while_unreachable(sessions, insert, within_seconds=1.0)
        took = time.monotonic() - started
    finally:
        postgres.start()
    assert len(calls) >= 3, calls  # waits of 0.25 s, 0.5 s, then the rest of the second
    assert 1.0 <= took < 4, took
    assert 2 not in _probe_rows(engine)


def test_helper_does_not_retry_other_errors(
    probe_db: tuple[OwnPostgres, Engine, sessionmaker[Session]],
) -> None:
    _, engine, sessions = probe_db
    calls: list[int] = []

    def broken_sql(session: Session) -> None:
        calls.append(1)
        session.execute(text("INSERT INTO probe (n) VALUES (3)"))
        session.execute(text("SELECT * FROM no_such_table"))

    def broken_code(session: Session) -> None:
        calls.append(2)
        raise ValueError("not a database error")

    started = time.monotonic()
    with pytest.raises(ProgrammingError):
        retry_while_unreachable(sessions, broken_sql, within_seconds=30)
    with pytest.raises(ValueError):
        retry_while_unreachable(sessions, broken_code, within_seconds=30)
    assert calls == [1, 2]
    assert time.monotonic() - started < 2
    assert 3 not in _probe_rows(engine)  # rolled back


# --- a restoration whose completion write meets a database restart ---------------------------------


def test_completed_result_survives_a_database_restart(
    tmp_path: Path, s3_endpoint: str, slow_provider: FakeSiliconFlow
) -> None:
    slow_provider.delay = 3.0  # PostgreSQL is stopped while the provider "thinks"
    with (
        own_postgres() as postgres,
        own_redis(persistent=False) as redis,
        fault_stack(
            tmp_path,
            redis_url=redis.url,
            s3_endpoint=s3_endpoint,
            database_url=postgres.url,
            # Without the retry the attempt would stay processing and be swept (timed_out) after
            # 20 s; the test would see it fail instead of complete.
            task_time_limit_seconds=20,
            result_write_retry_seconds=30,
            free_credits=FREE_CREDITS,
            # The sweep limit (20 s) must exceed SiliconFlow's own (2 x 9 s), checked at start-up.
            **{**provider_settings(slow_provider), "siliconflow_timeout": 9},
            sweep_margin_seconds=0,
        ) as stack,
        worker_process(stack.env, "--concurrency=2", "--beat"),
    ):
        user = "db-blip"
        photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
        accepted = stack.restore(photo["id"], user=user, engine="siliconflow")
        assert accepted.status_code == 202, accepted.text
        attempt_id = uuid.UUID(accepted.json()["id"])
        photo_id = uuid.UUID(photo["id"])
        result_key = keys.restored_key(user, photo_id, attempt_id)
        thumb_key = keys.thumbnail_key(user, photo_id, attempt_id)
        input_key = keys.provider_input_key(user, photo_id, attempt_id)

        _wait_until(
            lambda: slow_provider.count("POST", "/v1/images/generations") == 1,
            30,
            "the provider to receive the request",
        )
        postgres.stop()
        stopped = time.monotonic()

        # The worker gets the provider's answer and stores the result, the thumbnail, and removes
        # the provider's input copy: all that is left is to record the attempt, and it cannot.
        def at_the_record_step() -> bool:
            stored = stack.object_keys()
            return {result_key, thumb_key} <= stored and input_key not in stored

        _wait_until(at_the_record_step, 30, "the result to be stored")
        time.sleep(2.0)  # several completion writes fail meanwhile
        down = stack.client.get(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "database_unavailable"
        restarted_at = datetime.now(UTC)
        postgres.start()
        down_for = time.monotonic() - stopped

        ready = stack.wait_for_photo(photo["id"], ("ready",), user=user, timeout=30)
        attempt = ready["restore_attempts"][0]
        assert attempt["id"] == str(attempt_id)
        assert attempt["status"] == "completed", attempt
        assert attempt["error"] is None
        # Recorded after the database came back: the write was retried, not lost.
        assert datetime.fromisoformat(attempt["finished_at"]) >= restarted_at
        assert slow_provider.count("POST", "/v1/images/generations") == 1

        result = httpx.get(attempt["result_url"], timeout=30)
        assert result.status_code == 200
        with Image.open(io.BytesIO(result.content)) as image:
            assert image.format == "JPEG"

        time.sleep(2.0)  # a few more sweeps (every second) change nothing
        again = stack.photo(photo["id"], user=user)
        assert again["status"] == "ready"
        assert again["restore_attempts"][0]["status"] == "completed"
        assert assert_credits_settled(stack, user) == FREE_CREDITS - 1
        _, entries = ledger(stack, user)
        references = [entry["reference"] for entry in entries]
        assert f"charge:{attempt_id}" in references
        assert f"refund:{attempt_id}" not in references
        assert_nothing_stuck(stack)
        assert_no_orphans(stack)
        print(f"database down for {down_for:.1f} s around the completion write")
