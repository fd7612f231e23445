"""Fixtures of the fault tests: a production stack (PostgreSQL, Redis, S3 over HTTP) whose Redis,
PostgreSQL or S3 is a private instance the test may stop, and a fake provider slow enough to be
interrupted "in the middle" of a restoration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.engines.fakes import FakeSiliconFlow
from tests.engines.fakes.siliconflow import API_KEY
from tests.support.services import postgres_database
from tests.support.stack import Stack, running_stack, stack_settings


@pytest.fixture
def slow_provider() -> Iterator[FakeSiliconFlow]:
    """A SiliconFlow fake; set `delay` (seconds) to hold each generation that long."""
    with FakeSiliconFlow() as fake:
        yield fake


def provider_settings(fake: FakeSiliconFlow) -> dict[str, Any]:
    return {
        "rekindle_engines_allowed": "classic,siliconflow",
        "siliconflow_api_key": API_KEY,
        "siliconflow_api_url": fake.api_url,
        "siliconflow_timeout": 60,
        # The presigned-URL path, whose provider input copy these tests follow; moto signs for
        # 127.0.0.1, which the start-up check would refuse for a provider on the internet.
        "siliconflow_image_input": "url",
        "siliconflow_image_url_check": False,
    }


@contextmanager
def fault_stack(
    data_dir: Path,
    *,
    redis_url: str,
    s3_endpoint: str,
    database_url: str | None = None,
    **overrides: Any,
) -> Iterator[Stack]:
    """The API (uvicorn, in this process) on the production configuration, with no worker: each
    test starts, kills and restarts `rekindle worker` processes itself (`worker_process`).
    Without `database_url`, a fresh database on the machine's PostgreSQL is used."""
    with postgres_database() if database_url is None else _given(database_url) as url:
        values = stack_settings(
            "production",
            data_dir,
            postgres_url=url,
            redis_url=redis_url,
            s3_endpoint=s3_endpoint,
            **overrides,
        )
        with running_stack(values, "production", worker=False) as stack:
            yield stack


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url
