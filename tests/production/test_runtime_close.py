"""A runtime hands back its connections when closed (API shutdown, tests that build many)."""

from __future__ import annotations

from pathlib import Path

import redis

from rekindle.config import Settings
from rekindle.runtime import Runtime
from tests.support.services import redis_url


def _client_ids(url: str) -> set[int]:
    with redis.Redis.from_url(url) as admin:
        return {int(client["id"]) for client in admin.client_list()}


def test_close_releases_the_redis_connections_of_limits_and_budgets(tmp_path: Path) -> None:
    url = redis_url()
    runtime = Runtime(
        Settings(
            rekindle_data_dir=tmp_path,
            redis_url=url,
            engine_budgets={"siliconflow": {"requests_per_minute": 5}},
        )
    )
    assert runtime.limiter.hit("restore", "alice", 10, 60).allowed
    assert runtime.budgets.admit("siliconflow").allowed
    held = {runtime.limiter.client.client_id(), runtime.budgets.client.client_id()}  # type: ignore[attr-defined]
    assert held <= _client_ids(url)

    runtime.close()
    runtime.close()  # twice is harmless

    assert not held & _client_ids(url)
