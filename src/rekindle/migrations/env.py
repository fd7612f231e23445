"""Alembic environment: runs migrations on the connection or URL that `rekindle.migrate` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import rekindle.models  # noqa: F401  (registers every table)
from rekindle.db import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "rekindle.migrate sets sqlalchemy.url"
    engine = create_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()
