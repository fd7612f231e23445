"""Several Celery apps in one process (API, CLI, tests) must not break each other's sends."""

from __future__ import annotations

from pathlib import Path

from rekindle.config import Settings
from rekindle.queue import create_celery


def test_a_second_app_does_not_resize_a_pool_in_use(tmp_path: Path) -> None:
    """kombu's broker pool limit is process-wide: an app with another limit resizes every pool,
    and shrinking one with a connection checked out raised "Can't shrink pool when in use" in the
    middle of a concurrent upload (seen in CI). Both queue kinds must agree on one limit."""
    production = create_celery(
        Settings(rekindle_data_dir=tmp_path / "a", redis_url="redis://127.0.0.1:6379/15")
    )
    embedded = create_celery(Settings(rekindle_data_dir=tmp_path / "b"))
    with production.pool.acquire() as connection:  # a send in flight on one thread
        assert connection is not None
        with embedded.pool.acquire() as other:  # the first send through another app
            assert other is not None
    assert production.conf.broker_pool_limit == embedded.conf.broker_pool_limit
