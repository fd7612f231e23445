"""A batch's live progress (issue 16, fourth pass): its counts are kept on the batch's row by the
transactions that change its attempts (`batch_counts.move_attempt`), equal to a
count of its attempts whatever path changed them, and the published `batch` events never go back:
of two attempts ending at once, the one that committed first may publish last, and its (lower)
state is dropped (`events.bus.ordering`). Real PostgreSQL, and Redis or the database bus."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from rekindle.models import Event, RestoreAttempt, RestoreBatch
from rekindle.photos.service import delete_photo
from rekindle.restoration import runner
from rekindle.restoration.outcomes import mark_failed, mark_processing
from rekindle.restoration.runner import run_restore_attempt
from rekindle.runtime import Runtime
from tests.production.test_attempt_transactions import (
    _events,
    _probe_batch,
    _runtime,
    _user_with_photos,
)


def _published(runtime: Runtime, owner: str) -> list[dict[str, Any]]:
    """The owner's events in the order the bus published them."""
    if runtime.settings.redis_url:
        return _events(runtime, owner)
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Event.payload).where(Event.user_id == owner).order_by(Event.id))
        )


def _batch_attempts(runtime: Runtime, batch_id: str) -> list[uuid.UUID]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(RestoreAttempt.id)
                .where(RestoreAttempt.batch_id == uuid.UUID(batch_id))
                .order_by(RestoreAttempt.id)
            )
        )


@pytest.mark.parametrize("bus", ["redis", "database"])
def test_a_batch_never_publishes_a_state_older_than_one_it_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bus: str
) -> None:
    """The first attempt commits its completion, then its events are held back (as a thread
    preempted between the commit and the publish would be) while the second completes and
    publishes `done`. The old code then published the first's "1 of 2 completed" after `done`."""
    with _runtime(tmp_path, bus) as runtime:
        owner, photo_ids = _user_with_photos(runtime, 2)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        first, second = _batch_attempts(runtime, answer["batch_id"])
        held, release = threading.Event(), threading.Event()
        publish_change = runner.publish_change

        def late(target: Any, change: Any) -> Any:
            if change is not None and change.attempt_id == first and change.status == "completed":
                held.set()
                assert release.wait(30)
            return publish_change(target, change)

        monkeypatch.setattr(runner, "publish_change", late)
        outcome: list[str] = []
        thread = threading.Thread(
            target=lambda: outcome.append(run_restore_attempt(runtime, first))
        )
        thread.start()
        try:
            assert held.wait(30)
            assert run_restore_attempt(runtime, second) == "completed"
        finally:
            release.set()
            thread.join(30)
        assert outcome == ["completed"]
        batch = [e for e in _published(runtime, owner) if e["type"] == "batch"]
        assert batch[-1]["done"] and batch[-1]["completed"] == 2, batch
        finished = [e["completed"] + e["failed"] for e in batch]
        assert finished == sorted(finished), batch
        seqs = [e["seq"] for e in batch]
        assert seqs == sorted(set(seqs)), batch  # strictly rising: the late state was dropped
        # every change but the held one was published: accepted, 2 claims, the second's end
        assert len(batch) == 4, batch


def _counted(runtime: Runtime, batch_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """The batch row's counts, and the same counted over its attempts."""
    key = uuid.UUID(batch_id)
    with runtime.sessions() as session:
        row = session.get_one(RestoreBatch, key)
        kept = {
            "pending": row.attempts_pending,
            "processing": row.attempts_processing,
            "completed": row.attempts_completed,
            "failed": row.attempts_failed,
        }
        counted = dict.fromkeys(kept, 0)
        for status, count in session.execute(
            select(RestoreAttempt.status, func.count())
            .where(RestoreAttempt.batch_id == key)
            .group_by(RestoreAttempt.status)
        ):
            counted[str(status)] = count
    return kept, counted


def test_the_batch_row_counts_what_every_path_did_to_its_attempts(tmp_path: Path) -> None:
    """Completed by the worker; failed while pending (the sweep, a queue outage) and while
    processing; deleted with its photo: the row's counts stay those of its attempts, and its last
    event says so."""
    with _runtime(tmp_path, "redis") as runtime:
        owner, photo_ids = _user_with_photos(runtime, 5)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        batch_id = answer["batch_id"]
        attempts = _batch_attempts(runtime, batch_id)
        assert _counted(runtime, batch_id) == ({**dict.fromkeys(_STATUSES, 0), "pending": 5},) * 2
        done, swept, claimed, deleted, _left = attempts
        assert run_restore_attempt(runtime, done) == "completed"
        with runtime.sessions() as session:
            assert mark_failed(session, swept, code="timed_out", message="Service timeout")
            session.commit()
        with runtime.sessions() as session:
            assert mark_processing(session, claimed)
            session.commit()
        kept, counted = _counted(runtime, batch_id)
        assert kept == counted == {"pending": 2, "processing": 1, "completed": 1, "failed": 1}
        with runtime.sessions() as session:
            assert mark_failed(session, claimed, code="provider_unavailable", message="Down")
            assert not mark_failed(session, claimed, code="again", message="again")
            session.commit()
        with runtime.sessions() as session:
            photo_id = session.get_one(RestoreAttempt, deleted).photo_id
            delete_photo(session, runtime.store, owner, photo_id)
            session.commit()
        kept, counted = _counted(runtime, batch_id)
        assert kept == counted == {"pending": 1, "processing": 0, "completed": 1, "failed": 2}
        assert run_restore_attempt(runtime, _left) == "completed"
        kept, counted = _counted(runtime, batch_id)
        assert kept == counted == {"pending": 0, "processing": 0, "completed": 2, "failed": 2}
        last = [e for e in _published(runtime, owner) if e["type"] == "batch"][-1]
        assert last["done"] and last["total"] == 4 and last["completed"] == 2


_STATUSES = ("pending", "processing", "completed", "failed")


def test_a_batch_attempt_counts_nothing_over_the_batchs_attempts(tmp_path: Path) -> None:
    """The worker's events read the counts its own UPDATE of the batch row returned: no GROUP BY
    over the batch's attempts per event (the old code ran one per event, two per attempt)."""
    with _runtime(tmp_path, "redis") as runtime:
        owner, photo_ids = _user_with_photos(runtime, 2)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        attempts = _batch_attempts(runtime, answer["batch_id"])
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(runtime.engine, "before_cursor_execute", seen)
        try:
            for attempt_id in attempts:
                assert run_restore_attempt(runtime, attempt_id) == "completed"
        finally:
            event.remove(runtime.engine, "before_cursor_execute", seen)
        assert not [s for s in statements if "GROUP BY" in s.upper()]
        # per attempt: claim 3 (read, mark, count), finish 3 (mark, photo, count): the finish
        # takes what it needs from the claim, no read-back
        assert len(statements) == 2 * 6


def test_a_batch_attempts_statements_are_built_once(tmp_path: Path) -> None:
    """Every attempt runs the same statement objects with its own parameters: building a statement
    and its cache key per call cost the worker more CPU than running it (the old code built all
    six anew for each attempt)."""
    with _runtime(tmp_path, "redis") as runtime:
        owner, photo_ids = _user_with_photos(runtime, 2)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        attempts = _batch_attempts(runtime, answer["batch_id"])
        runs: list[list[object]] = []

        def seen(_conn: Any, statement: object, *_: Any) -> None:
            runs[-1].append(statement)

        event.listen(runtime.engine, "before_execute", seen)
        try:
            for attempt_id in attempts:
                runs.append([])
                assert run_restore_attempt(runtime, attempt_id) == "completed"
        finally:
            event.remove(runtime.engine, "before_execute", seen)
        first, second = runs
        assert len(first) == len(second) == 6
        assert all(a is b for a, b in zip(first, second, strict=True))


def test_a_batch_attempt_publishes_each_change_in_one_redis_call(tmp_path: Path) -> None:
    """Each change (claimed, finished) publishes its attempt event and its batch event with one
    script call (one round trip), not one each: 2 per attempt (the old code: 4)."""
    from rekindle.events.bus import RedisBus, bus_for

    with _runtime(tmp_path, "redis") as runtime:
        owner, photo_ids = _user_with_photos(runtime, 1)
        with runtime.sessions() as session:
            answer = _probe_batch(runtime, session, owner, photo_ids)
        (attempt_id,) = _batch_attempts(runtime, answer["batch_id"])
        bus = bus_for(runtime)
        assert isinstance(bus, RedisBus)
        script = bus._publish
        calls: list[int] = []

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return script(*args, **kwargs)

        bus._publish = counted  # type: ignore[assignment]
        try:
            before = len(_published(runtime, owner))
            assert run_restore_attempt(runtime, attempt_id) == "completed"
        finally:
            bus._publish = script
        assert len(calls) == 2
        assert len(_published(runtime, owner)) == before + 4  # 2 attempt + 2 batch events
