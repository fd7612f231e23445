"""Revision 0013 on SQLite and PostgreSQL: a batch accepted before it gets its progress counted
from its attempts (`restore_batches.attempts_*`), its `progress_seq` starts at 1 (above the
`published_seq` 0 that both buses start from), and the downgrade removes the columns again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from rekindle.db import make_engine, utcnow
from rekindle.migrate import alembic_config, upgrade
from rekindle.models import Photo, RestoreAttempt, RestoreBatch
from tests.support.rows import photo_values
from tests.support.services import empty_database_settings

_OLD_BATCH_COLUMNS = ("id", "owner_id", "idempotency_key", "request_hash", "response", "created_at")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database_settings(request.param, tmp_path) as settings:
        yield settings.sqlalchemy_url


def test_a_batch_accepted_before_gets_its_counts(url: str) -> None:
    upgrade(url, "0012")
    engine = make_engine(url, pool_size=50)
    metadata = sa.MetaData()
    users = sa.Table("users", metadata, autoload_with=engine)
    assert "attempts_pending" not in sa.Table("restore_batches", metadata, autoload_with=engine).c
    # the columns of 0012 with the model's types (the model's table would add its new defaults)
    batches = sa.table(
        "restore_batches",
        *(RestoreBatch.__table__.c[name]._copy() for name in _OLD_BATCH_COLUMNS),
    )
    photos, attempts = Photo.__table__, RestoreAttempt.__table__
    batch_id, other = uuid.uuid4(), uuid.uuid4()
    statuses = ["pending", "processing", "completed", "completed", "failed"]
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(users.insert().values(id="old", created_at=now))
        for key in (batch_id, other):
            connection.execute(
                batches.insert().values(
                    id=key, owner_id="old", request_hash="0" * 64, response={}, created_at=now
                )
            )
        for status in [*statuses, None]:  # the last one belongs to no batch
            photo_id = uuid.uuid4()
            connection.execute(
                photos.insert().values(
                    **photo_values("old", photo_id), created_at=now, updated_at=now
                )
            )
            connection.execute(
                attempts.insert().values(
                    id=uuid.uuid4(),
                    photo_id=photo_id,
                    status=status or "completed",
                    engine="probe",
                    params={},
                    photo_status_before="uploaded",
                    batch_id=batch_id if status else None,
                    created_at=now,
                )
            )
    upgrade(url)
    table = RestoreBatch.__table__
    with engine.connect() as connection:
        rows = {
            row.id: row
            for row in connection.execute(
                sa.select(
                    table.c.id,
                    table.c.attempts_pending,
                    table.c.attempts_processing,
                    table.c.attempts_completed,
                    table.c.attempts_failed,
                    table.c.progress_seq,
                    table.c.published_seq,
                )
            )
        }
    assert tuple(rows[batch_id])[1:] == (1, 1, 2, 1, 1, 0)
    assert tuple(rows[other])[1:] == (0, 0, 0, 0, 1, 0)
    command.downgrade(alembic_config(url), "0012")
    with engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("restore_batches")}
    assert not {"attempts_pending", "progress_seq", "published_seq"} & columns
    engine.dispose()
