"""`orphan_objects` on its own, on SQLite and PostgreSQL (migrated schema) with the local store:
recording is idempotent and survives an unreachable database (logged), the sweep deletes what is
recorded and drops the rows, and never deletes an object a row owns. (S3 refusing the clean-up,
and the sweep waiting for it, is in tests/faults/test_storage_outage.py.)"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, insert, inspect, select
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.db import make_engine, make_sessionmaker, session_scope
from rekindle.migrate import upgrade
from rekindle.models import OrphanObject, Photo, RestoreAttempt, User
from rekindle.runtime import Runtime
from rekindle.storage import keys
from rekindle.storage.orphans import forget, remember, remove_orphaned_objects
from rekindle.users import ensure_user
from tests.support.rows import photo_row
from tests.support.services import empty_database_settings
from tests.support.stack import free_port


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty database of each kind, with the local folder store."""
    with empty_database_settings(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the migrated database."""
    upgrade(settings.sqlalchemy_url)
    built = Runtime(settings)
    try:
        yield built
    finally:
        built.close()


def _recorded(runtime: Runtime) -> dict[str, str | None]:
    with runtime.sessions() as session:
        return {row.key: row.reason for row in session.scalars(select(OrphanObject))}


def _stored(runtime: Runtime, *names: str) -> list[str]:
    found = [f"users/orphan-test/processed/{uuid.uuid4()}.{name}" for name in names]
    for key in found:
        runtime.store.put(key, b"bytes", "application/octet-stream")
    return found


def test_recorded_keys_are_swept(runtime: Runtime) -> None:
    first, second, third = _stored(runtime, "a", "b", "c")
    assert remember(runtime.sessions, [first, second, first], "upload failed: storage_unavailable")
    assert remember(runtime.sessions, [second, third], "restore attempt x failed: timed_out")
    assert remember(runtime.sessions, [], "nothing")
    # One row per key; a key recorded again carries the later reason.
    assert _recorded(runtime) == {
        first: "upload failed: storage_unavailable",
        second: "restore attempt x failed: timed_out",
        third: "restore attempt x failed: timed_out",
    }
    # A key about to be written again (an HD retry) is forgotten in the caller's transaction.
    with session_scope(runtime.sessions) as session:
        forget(session, [third])
    assert set(_recorded(runtime)) == {first, second}
    assert remove_orphaned_objects(runtime) == 2
    assert _recorded(runtime) == {}
    assert not runtime.store.exists(first) and not runtime.store.exists(second)
    assert runtime.store.exists(third)
    assert remove_orphaned_objects(runtime) == 0  # nothing left: nothing done


def test_the_sweep_keeps_an_object_a_row_owns(runtime: Runtime) -> None:
    owner, photo_id = "orphan-owner", uuid.uuid4()
    original = keys.original_key(owner, photo_id, "png")
    runtime.store.put(original, b"png", "image/png")
    with session_scope(runtime.sessions) as session:
        ensure_user(session, owner, None, runtime.settings)
        session.add(photo_row(owner, photo_id))
    # E.g. a late worker recorded a key that a newer try has since stored and recorded.
    assert remember(runtime.sessions, [original], "animation x (hd=True) swept")
    assert remove_orphaned_objects(runtime) == 0
    assert runtime.store.exists(original)
    assert _recorded(runtime) == {}


def test_remember_logs_the_keys_when_the_database_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere", pool_size=50
    )
    try:
        with caplog.at_level(logging.ERROR, logger="rekindle.storage.orphans"):
            assert not remember(make_sessionmaker(engine), ["users/u/processed/k.png"], "why")
    finally:
        engine.dispose()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "users/u/processed/k.png" in record.getMessage()


_PHOTO_FIELDS = ("id", "owner_id", "original_key", "size_bytes", "mime_type")
_PHOTO_FIELDS += ("checksum_sha256", "width", "height")


def _insert_as_of_0004(session: Session, model: Any, **values: Any) -> None:
    """Insert a row of `model` into its table as revision 0004 left it: only the columns the
    database has (the ORM would name columns later revisions add)."""
    present = {c["name"] for c in inspect(session.connection()).get_columns(model.__tablename__)}
    old = Table(
        model.__tablename__,
        MetaData(),
        *[c._copy() for c in model.__table__.c if c.name in present],
    )
    session.execute(insert(old).values(**values))


def test_the_upgrade_keeps_what_failed_attempts_recorded(settings: Settings) -> None:
    """Revision 0005 copies the `orphan_keys` that failed attempts kept in their params (the
    mechanism it replaces) into the table, so the sweep still removes those objects."""
    upgrade(settings.sqlalchemy_url, "0004")
    runtime = Runtime(settings)
    try:
        owner, photo_id, attempt_id = "migrated", uuid.uuid4(), uuid.uuid4()
        left = keys.provider_input_key(owner, photo_id, attempt_id)
        with session_scope(runtime.sessions) as session:
            # The rows as of revision 0004: without the columns and tables later revisions add.
            _insert_as_of_0004(session, User, id=owner, credit_balance=0)
            row = photo_row(owner, photo_id)
            _insert_as_of_0004(
                session, Photo, **{name: getattr(row, name) for name in _PHOTO_FIELDS}
            )
            _insert_as_of_0004(
                session,
                RestoreAttempt,
                id=attempt_id,
                photo_id=photo_id,
                status="failed",
                engine="siliconflow",
                params={"orphan_keys": [left]},
                photo_status_before="uploaded",
            )
        upgrade(settings.sqlalchemy_url)
        assert _recorded(runtime) == {left: f"restore attempt {attempt_id} failed"}
    finally:
        runtime.close()


def test_photo_id_of_reads_every_layout() -> None:
    photo, attempt = uuid.uuid4(), uuid.uuid4()
    owner = "auth0|a/b"  # a "/" in the owner id does not confuse it
    for key in (
        keys.original_key(owner, photo, "png"),
        keys.restored_key(owner, photo, attempt),
        keys.provider_input_key(owner, photo, attempt),
        keys.thumbnail_key(owner, photo, attempt),
        *keys.animation_keys(owner, photo, attempt),
    ):
        assert keys.photo_id_of(key) == photo, key
    assert keys.photo_id_of("users/u/processed/not-a-uuid.png") is None
    assert keys.photo_id_of("elsewhere/x.jpg") is None
