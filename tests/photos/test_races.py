"""Interleavings on PostgreSQL (READ COMMITTED, row locks) that once broke a promise.

- A restore request can read the photo as `processing`, then wait for the user row while the
  earlier attempt fails and puts the photo back to `ready`. Accepting the new attempt with
  `processing` as its status-before once left the photo stuck in `processing` when that attempt
  failed too: every later restore got 409, and the sweep, which looks at attempts, never repaired it.
- Deleting a photo while a worker records its result: the delete read the attempts' keys before
  the worker committed, so the result objects outlived their rows.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rekindle.config import Settings
from rekindle.credits import ledger
from rekindle.db import session_scope, utcnow
from rekindle.errors import Conflict
from rekindle.models import Photo, PhotoStatus, User
from rekindle.photos.schemas import RestoreOptions
from rekindle.photos.service import delete_photo, get_photo, request_restore
from rekindle.restoration.outcomes import mark_completed, mark_failed, mark_processing
from rekindle.storage import keys
from rekindle.storage.base import ObjectNotFound
from rekindle.storage.local import LocalStore
from tests.support.rows import photo_row
from tests.support.services import postgres_sessions

OWNER = "race-owner"


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    with postgres_sessions() as sessions:
        yield sessions


def _ready_photo(sessions: sessionmaker[Session]) -> uuid.UUID:
    photo_id = uuid.uuid4()
    with session_scope(sessions) as session:
        session.add(User(id=OWNER, email=None, credit_balance=0, created_at=utcnow()))
        session.flush()
        ledger.grant(session, OWNER, 10, reference="seed", reason="seed")
        session.add(photo_row(OWNER, photo_id, status=PhotoStatus.READY))
    return photo_id


def _status(sessions: sessionmaker[Session], photo_id: uuid.UUID) -> str:
    with sessions() as session:
        return session.scalars(select(Photo.status).where(Photo.id == photo_id)).one()


def test_a_stale_processing_read_never_becomes_the_status_to_restore(
    sessions: sessionmaker[Session],
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    photo_id = _ready_photo(sessions)
    with session_scope(sessions) as session:
        first = request_restore(session, settings, OWNER, photo_id, RestoreOptions()).id
    assert _status(sessions, photo_id) == PhotoStatus.PROCESSING

    # A second request reads the photo while the first attempt still runs (the read it goes on
    # with, as request_restore's own read is while it waits for the user row's lock) ...
    late = sessions()
    read_early = get_photo(late, OWNER, photo_id)
    assert read_early.status == PhotoStatus.PROCESSING
    # ... and the first attempt fails before that request goes on.
    with session_scope(sessions) as session:
        assert mark_failed(session, first, code="provider_unavailable", message="Unavailable")
    assert _status(sessions, photo_id) == PhotoStatus.READY

    try:
        second = request_restore(late, settings, OWNER, photo_id, RestoreOptions()).id
        late.commit()
    except Conflict:  # refusing on what it read is fine; accepting it is fine too ...
        late.rollback()
    else:  # ... as long as failing it puts back what the photo really had
        with session_scope(sessions) as session:
            assert mark_failed(session, second, code="provider_unavailable", message="Unavailable")
    finally:
        late.close()
    assert _status(sessions, photo_id) == PhotoStatus.READY


def test_deleting_a_photo_while_its_result_is_recorded_leaves_no_object(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    store = LocalStore(tmp_path, secret=b"k" * 32, ttl_seconds=60)
    photo_id = _ready_photo(sessions)
    with session_scope(sessions) as session:
        attempt_id = request_restore(session, settings, OWNER, photo_id, RestoreOptions()).id
    with session_scope(sessions) as session:
        assert mark_processing(session, attempt_id)
    original = keys.original_key(OWNER, photo_id, "png")
    result = keys.restored_key(OWNER, photo_id, attempt_id)
    thumbnail = keys.thumbnail_key(OWNER, photo_id, attempt_id)
    for key in (original, result, thumbnail):
        store.put(key, b"bytes", "image/jpeg")

    # The worker records its result; before it commits, the owner deletes the photo.
    worker = sessions()
    assert mark_completed(
        worker, attempt_id, model="m", params={}, result_key=result, thumbnail_key=thumbnail
    )
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            with session_scope(sessions) as session:
                delete_photo(session, store, OWNER, photo_id)
        except BaseException as exc:
            errors.append(exc)

    deleting = threading.Thread(target=delete)
    deleting.start()
    deleting.join(0.5)
    worker.commit()
    worker.close()
    deleting.join(10)
    assert not deleting.is_alive() and errors == []
    for key in (original, result, thumbnail):
        with pytest.raises(ObjectNotFound):
            store.get(key)
    with sessions() as session:
        assert session.get(Photo, photo_id) is None
