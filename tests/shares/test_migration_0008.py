"""Migration 0008 (display copies, sessions, pending sign-ups, share links) on SQLite and
PostgreSQL: it upgrades a database holding photos, matches the models, and downgrades cleanly."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rekindle.db import Base
from rekindle.migrate import alembic_config, upgrade
from tests.support.services import postgres_database

NEW_TABLES = {"auth_sessions", "pending_signups", "share_links"}


def _check(url: str) -> None:
    upgrade(url, "0007")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO users (id, credit_balance, created_at) VALUES ('u', 0, :now)"),
                {"now": "2026-12-01 00:00:00+00:00"},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO photos (id, owner_id, original_key, status, size_bytes, "
                    "mime_type, checksum_sha256, width, height, metadata_json, created_at, "
                    "updated_at) VALUES (:id, 'u', 'k', 'uploaded', 1, 'image/heic', :sum, 1, 1, "
                    "'{}', :now, :now)"
                ),
                {
                    "id": uuid.uuid4().hex if url.startswith("sqlite") else str(uuid.uuid4()),
                    "sum": "0" * 64,
                    "now": "2026-12-01 00:00:00+00:00",
                },
            )
        upgrade(url)
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert set(inspector.get_table_names()) >= NEW_TABLES
            assert "display_key" in {c["name"] for c in inspector.get_columns("photos")}
            # An older photo survives with no display copy (the API falls back on the original).
            assert connection.execute(sa.text("SELECT display_key FROM photos")).all() == [(None,)]
            differences = [
                diff
                for diff in compare_metadata(MigrationContext.configure(connection), Base.metadata)
                if any(name in str(diff) for name in (*NEW_TABLES, "display_key"))
            ]
            assert differences == []
        command.downgrade(alembic_config(url), "0007")
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert not NEW_TABLES & set(inspector.get_table_names())
            assert "display_key" not in {c["name"] for c in inspector.get_columns("photos")}
            assert connection.execute(sa.text("SELECT count(*) FROM photos")).scalar() == 1
        upgrade(url)
    finally:
        engine.dispose()


def test_migration_0008_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'm.sqlite3'}")


def test_migration_0008_on_postgresql() -> None:
    with postgres_database() as url:
        _check(url.replace("postgresql://", "postgresql+psycopg://"))


@pytest.fixture(autouse=True)
def _models_loaded() -> None:
    import rekindle.models  # noqa: F401  (registers every table on Base.metadata)
