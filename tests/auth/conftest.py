"""API-only stacks (no worker process) for the auth tests, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import postgres_database, redis_url
from tests.support.stack import Stack, running_stack, stack_settings


@contextmanager
def api_stack(kind: str, data_dir: Path, **overrides: Any) -> Iterator[Stack]:
    """The API on `kind`'s database (embedded: SQLite; production: a fresh PostgreSQL database
    and Redis for the rate limits), without a worker: these tests queue nothing."""
    if kind == "embedded":
        with running_stack(stack_settings(kind, data_dir, **overrides), kind, worker=False) as s:
            yield s
        return
    with postgres_database() as database_url:
        values = stack_settings("embedded", data_dir, **overrides)
        values.update(database_url=database_url, redis_url=redis_url())
        with running_stack(values, kind, worker=False) as s:
            yield s
