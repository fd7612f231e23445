"""Revision 0007 on SQLite and PostgreSQL: the new columns arrive, a photo already archived gets
the status to return to, and the downgrade removes them again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from rekindle.db import make_engine, utcnow
from rekindle.migrate import alembic_config, upgrade
from rekindle.models import Photo
from tests.support.rows import photo_values
from tests.support.services import empty_database_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database_settings(request.param, tmp_path) as settings:
        yield settings.sqlalchemy_url


def test_archived_photos_learn_where_to_return(url: str) -> None:
    upgrade(url, "0006")
    engine = make_engine(url, pool_size=50)
    metadata = sa.MetaData()
    users = sa.Table("users", metadata, autoload_with=engine)
    assert "archived_from" not in sa.Table("photos", metadata, autoload_with=engine).c
    photos = Photo.__table__  # its types; a Core insert names only the columns given (and defaults)
    ready, bare = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(users.insert().values(id="old", created_at=utcnow()))
        now = utcnow()
        for photo_id, selected in ((ready, uuid.uuid4()), (bare, None)):
            connection.execute(
                photos.insert().values(
                    **photo_values("old", photo_id, status="archived"),
                    selected_restore_id=selected,
                    created_at=now,
                    updated_at=now,
                )
            )
    upgrade(url)
    with engine.connect() as connection:
        found = dict(connection.execute(sa.select(photos.c.id, photos.c.archived_from)).all())
        columns = {c["name"] for c in sa.inspect(connection).get_columns("restore_attempts")}
    assert found == {ready: "ready", bare: "uploaded"}
    assert "mask_key" in columns
    command.downgrade(alembic_config(url), "0006")
    with engine.connect() as connection:
        assert "archived_from" not in {
            c["name"] for c in sa.inspect(connection).get_columns("photos")
        }
    engine.dispose()
