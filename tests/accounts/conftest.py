"""Fixtures for the accounts, quota and crafted-input tests: the API alone (no worker), embedded
(SQLite, local folder) or production (PostgreSQL, Redis, S3 over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import postgres_database, redis_url
from tests.support.stack import Stack, running_stack, stack_settings


@contextmanager
def api_stack(kind: str, data_dir: Path, s3_endpoint: str, **overrides: Any) -> Iterator[Stack]:
    """The API of one configuration, served without a worker (nothing here restores)."""
    if kind == "embedded":
        with running_stack(stack_settings(kind, data_dir, **overrides), kind, worker=False) as s:
            yield s
        return
    with postgres_database() as database_url:
        values = stack_settings(
            kind,
            data_dir,
            postgres_url=database_url,
            redis_url=redis_url(),
            s3_endpoint=s3_endpoint,
            **overrides,
        )
        with running_stack(values, kind, worker=False) as s:
            yield s


@pytest.fixture(scope="module", params=["embedded", "production"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """The API with default settings, on each configuration in turn."""
    data_dir = tmp_path_factory.mktemp(f"accounts-{request.param}")
    with api_stack(request.param, data_dir, s3_endpoint) as running:
        yield running
