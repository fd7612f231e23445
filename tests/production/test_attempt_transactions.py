"""Database transactions per restore attempt in the worker (issue 16, docs/benchmarks.md "Worker
throughput for big batches"): two (claim + start, then finish + ledger + events), counted on a
real PostgreSQL engine; the live events (the attempt's and its batch's) come from those two
transactions, with no read-back. The code before issue 16's second pass used five."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from rekindle.api.deps import current_user
from rekindle.config import Settings
from rekindle.events.bus import reset_buses
from rekindle.migrate import upgrade
from rekindle.models import Photo, RestoreAttempt
from rekindle.photos.schemas import RestoreOptions
from rekindle.photos.service import request_restore
from rekindle.restoration.batch import BatchRestoreIn, restore_batch
from rekindle.restoration.runner import run_restore_attempt
from rekindle.runtime import Runtime
from tests.production.helpers import small_png
from tests.support.engines import registered_test_engines
from tests.support.rows import photo_row
from tests.support.services import postgres_database, redis_url


@contextmanager
def _runtime(tmp_path: Path, bus: str = "redis") -> Iterator[Runtime]:
    """A runtime on a fresh PostgreSQL database with the `probe` engine; live events on Redis, or
    on the database with `bus="database"`."""
    with registered_test_engines(), postgres_database() as url:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            rekindle_data_dir=tmp_path,
            database_url=url,
            redis_url=redis_url() if bus == "redis" else None,
            rekindle_engines_allowed="probe",
            free_credits=10,
        )
        upgrade(settings.sqlalchemy_url)
        runtime = Runtime(settings)
        try:
            yield runtime
        finally:
            runtime.close()
            reset_buses()


def _pending_attempt(runtime: Runtime, owner: str, photo_id: uuid.UUID) -> uuid.UUID:
    """A committed pending attempt of `photo_id` on the instant `probe` engine."""
    with runtime.sessions() as session:
        attempt = request_restore(
            session, runtime.settings, owner, photo_id, RestoreOptions(engine="probe")
        )
        session.commit()
        return attempt.id


def _probe_batch(
    runtime: Runtime, session: Session, owner: str, photo_ids: list[uuid.UUID]
) -> dict[str, Any]:
    """`restore_batch` of `photo_ids` on the instant `probe` engine, no idempotency key."""
    return restore_batch(
        runtime,
        session,
        owner,
        BatchRestoreIn(photo_ids=photo_ids, options=RestoreOptions(engine="probe")),
        idempotency_key=None,
        base_url="http://testserver",
    )


def _user_with_photos(runtime: Runtime, count: int) -> tuple[str, list[uuid.UUID]]:
    token = runtime.verifier.issue_local("alice", "alice@example.org", 60)
    current_user(runtime, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    ids = [uuid.uuid4() for _ in range(count)]
    with runtime.sessions() as session:
        for seed, photo_id in enumerate(ids):
            photo = photo_row("alice", photo_id, width=160, height=120)
            runtime.store.put(photo.original_key, small_png(seed), "image/png")
            session.add(photo)
        session.commit()
    return "alice", ids


@contextmanager
def _transactions(runtime: Runtime) -> Iterator[dict[str, int]]:
    counted = {"begin": 0, "commit": 0}

    def begin(*_: Any) -> None:
        counted["begin"] += 1

    def commit(*_: Any) -> None:
        counted["commit"] += 1

    event.listen(runtime.engine, "begin", begin)
    event.listen(runtime.engine, "commit", commit)
    try:
        yield counted
    finally:
        event.remove(runtime.engine, "begin", begin)
        event.remove(runtime.engine, "commit", commit)


def _events(runtime: Runtime, user_id: str) -> list[dict[str, Any]]:
    import redis

    from rekindle.events.bus import _log_key

    client = redis.Redis.from_url(runtime.settings.redis_url or "")
    try:
        return [json.loads(fields[b"data"]) for _, fields in client.xrange(_log_key(user_id))]
    finally:
        client.close()


def test_an_attempt_takes_two_transactions_in_the_worker(tmp_path: Path) -> None:
    with _runtime(tmp_path) as runtime:
        owner, (photo_id,) = _user_with_photos(runtime, 1)
        attempt_id = _pending_attempt(runtime, owner, photo_id)
        with _transactions(runtime) as counted:
            assert run_restore_attempt(runtime, attempt_id) == "completed"
        assert counted == {"begin": 2, "commit": 2}
        # a duplicate delivery: one transaction, nothing changes
        with _transactions(runtime) as counted:
            assert run_restore_attempt(runtime, attempt_id) == "skipped"
        assert counted["begin"] == 1
        statuses = [(e["status"], e["photo_status"]) for e in _events(runtime, owner)]
        assert statuses == [("processing", "processing"), ("completed", "ready")]


def test_a_batch_attempt_takes_two_and_its_progress_ends_done(tmp_path: Path) -> None:
    with _runtime(tmp_path) as runtime:
        owner, photo_ids = _user_with_photos(runtime, 3)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        assert answer["accepted"] == 3
        with runtime.sessions() as session:
            attempt_ids = list(
                session.scalars(
                    select(RestoreAttempt.id).where(Photo.id.in_(photo_ids)).join(Photo)
                )
            )
        for attempt_id in attempt_ids:
            with _transactions(runtime) as counted:
                assert run_restore_attempt(runtime, attempt_id) == "completed"
            assert counted == {"begin": 2, "commit": 2}
        events = _events(runtime, owner)
        batch = [e for e in events if e["type"] == "batch"]
        assert all(e["batch_id"] == answer["batch_id"] and e["total"] == 3 for e in batch)
        # one event when accepted (all pending), then one per change in the worker
        assert len(batch) == 1 + 2 * 3
        assert batch[0]["pending"] == 3 and not batch[0]["done"]
        assert not any(e["done"] for e in batch[:-1])
        assert batch[-1]["done"] and batch[-1]["completed"] == 3
        attempts = [e for e in events if e["type"] == "attempt"]
        assert [e["status"] for e in attempts].count("pending") == 3
        assert [e["status"] for e in attempts].count("completed") == 3


@pytest.mark.parametrize("gone", ["deleted"])
def test_an_attempt_whose_photo_is_gone_is_skipped(tmp_path: Path, gone: str) -> None:
    with _runtime(tmp_path) as runtime:
        owner, (photo_id,) = _user_with_photos(runtime, 1)
        attempt_id = _pending_attempt(runtime, owner, photo_id)
        with runtime.sessions() as session:
            session.delete(session.get(Photo, photo_id))
            session.commit()
        assert run_restore_attempt(runtime, attempt_id) == "skipped"


def test_a_batch_accepts_in_a_constant_number_of_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch endpoint was one request_restore per photo (about a dozen statements each); now
    the statements do not grow with the photos. When a photo changed status since it was read,
    the batch goes one by one instead (the same answer)."""
    from rekindle.credits.ledger import balance
    from rekindle.restoration import batch as batch_module

    counts: dict[int, int] = {}
    with _runtime(tmp_path) as runtime:
        owner, photo_ids = _user_with_photos(runtime, 8)
        for size in (2, 6):
            statements: list[str] = []

            def count(*args: Any) -> None:
                statements.append(args[2])  # noqa: B023

            event.listen(runtime.engine, "before_cursor_execute", count)
            with runtime.sessions() as session:
                chosen = photo_ids[:size] if size == 2 else photo_ids[2:]
                answer = _probe_batch(runtime, session, owner, chosen)
            event.remove(runtime.engine, "before_cursor_execute", count)
            assert answer["accepted"] == size
            counts[size] = len(statements)
        assert counts[2] == counts[6]
        with runtime.sessions() as session:
            assert balance(session, owner) == 10 - 8
            assert set(
                session.scalars(
                    select(RestoreAttempt.photo_id).where(RestoreAttempt.batch_id.is_not(None))
                )
            ) == set(photo_ids)

    def raced(*_: Any, **__: Any) -> None:
        raise batch_module._Raced

    monkeypatch.setattr(batch_module, "_accept_at_once", raced)
    with _runtime(tmp_path / "again") as runtime:
        owner, photo_ids = _user_with_photos(runtime, 3)
        with runtime.sessions() as session:
            answer = restore_batch(
                runtime,
                session,
                owner,
                BatchRestoreIn(
                    photo_ids=[*photo_ids, uuid.uuid4()], options=RestoreOptions(engine="probe")
                ),
                idempotency_key=None,
                base_url="http://testserver",
            )
        assert answer["accepted"] == 3 and answer["skipped"] == 1
        assert [item["status"] for item in answer["items"]][-1] == "skipped"
        with runtime.sessions() as session:
            assert balance(session, owner) == 10 - 3
            assert (
                len(
                    list(
                        session.scalars(
                            select(RestoreAttempt.id).where(RestoreAttempt.batch_id.is_not(None))
                        )
                    )
                )
                == 3
            )
