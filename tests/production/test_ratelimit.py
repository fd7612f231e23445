"""Rate limits per user and per client address on upload, restore and animate: 429 with
Retry-After; in memory on the embedded defaults, in Redis (shared by API replicas) in production."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from rekindle.api.ratelimit import MemoryLimiter, RedisLimiter, client_address
from rekindle.config import Settings
from tests.production.helpers import small_png
from tests.support.services import redis_url
from tests.support.stack import Stack, serve_api


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_sliding_window() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    for _ in range(3):  # at 500, 501, 502
        assert limiter.hit("restore:user", "u1", 3, 60).allowed
        clock.now += 1
    clock.now -= 1
    refused = limiter.hit("restore:user", "u1", 3, 60)
    assert not refused.allowed and refused.retry_after == 58  # the 500 one leaves at 560
    assert limiter.hit("restore:user", "u2", 3, 60).allowed  # keys are independent
    assert limiter.hit("upload:user", "u1", 3, 60).allowed  # and scopes
    clock.now = 559.5
    again = limiter.hit("restore:user", "u1", 3, 60)
    assert not again.allowed and again.retry_after == 1  # rounded up, never 0
    clock.now += 0.5
    assert limiter.hit("restore:user", "u1", 3, 60).allowed  # the oldest left the window
    assert not limiter.hit("restore:user", "u1", 3, 60).allowed  # the other two are still in


def test_redis_limiter_is_shared_and_exact() -> None:
    url = redis_url()
    replica_a, replica_b = RedisLimiter(url), RedisLimiter(url)
    replica_a.reset()
    assert replica_a.hit("restore:user", "carol", 2, 2).allowed
    assert replica_b.hit("restore:user", "carol", 2, 2).allowed
    refused = replica_a.hit("restore:user", "carol", 2, 2)
    assert not refused.allowed and 1 <= refused.retry_after <= 2
    assert not replica_b.hit("restore:user", "carol", 2, 2).allowed  # refusals are not recorded
    time.sleep(2.05)
    assert replica_b.hit("restore:user", "carol", 2, 2).allowed
    replica_a.reset()


def test_redis_limiter_lets_requests_through_when_redis_is_down() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    assert limiter.hit("restore:user", "dave", 1, 60).allowed
    assert limiter.hit("restore:user", "dave", 1, 60).allowed


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_client_address_trusts_forwarded_for_only_from_trusted_proxies() -> None:
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert client_address(_request("10.0.0.5", "1.2.3.4"), plain) == "10.0.0.5"
    proxied = Settings(_env_file=None, trusted_proxies="10.0.0.0/8")  # type: ignore[call-arg]
    assert client_address(_request("10.0.0.5", "1.2.3.4"), proxied) == "1.2.3.4"
    # A client cannot pick its address by sending its own X-Forwarded-For through the proxy:
    # the right-most untrusted hop is the one the proxy saw.
    assert client_address(_request("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9"), proxied) == "1.2.3.4"
    assert client_address(_request("8.8.8.8", "1.2.3.4"), proxied) == "8.8.8.8"
    # Trusting any proxy (`*`) trusts only the hop the proxy in front appended, not the client's.
    anyone = Settings(_env_file=None, trusted_proxies="*")  # type: ignore[call-arg]
    assert client_address(_request("10.0.0.5", "6.6.6.6, 1.2.3.4"), anyone) == "1.2.3.4"
    assert client_address(_request("10.0.0.5"), anyone) == "10.0.0.5"


@pytest.fixture(scope="module", params=["embedded", "production"])
def limited_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """A stack with the default limits (30 restores a minute per user) and no worker, so every
    restore stays pending and the photo answers 409 after the first: the limiter runs first."""
    from tests.support.stack import running_stack, stack_settings

    data_dir = tmp_path_factory.mktemp(f"limits-{request.param}")
    defaults = {
        "rate_limit_upload_per_minute": 60,
        "rate_limit_restore_per_minute": 30,
        "rate_limit_animate_per_minute": 10,
    }
    if request.param == "embedded":
        values = stack_settings("embedded", data_dir, **defaults)
        with running_stack(values, "embedded", worker=False) as stack:
            yield stack
        return
    from tests.support.services import postgres_database

    with postgres_database() as database_url:
        values = stack_settings(
            "production",
            data_dir,
            postgres_url=database_url,
            redis_url=redis_url(),
            s3_endpoint=s3_endpoint,
            **defaults,
        )
        with running_stack(values, "production", worker=False) as stack:
            yield stack


def _upload(stack: Stack, user: str, seed: int = 0) -> Any:
    return stack.client.post(
        "/api/v1/photos",
        headers=stack.auth(user),
        files={"file": ("p.png", small_png(seed), "image/png")},
    )


def test_burst_of_100_restores_is_stopped(limited_stack: Stack) -> None:
    stack = limited_stack
    user = f"burst-{stack.kind}"
    photo = _upload(stack, user).json()
    statuses = []
    retry_after = []
    for _ in range(100):
        response = stack.restore(photo["id"], user=user)
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = response.json()["error"]
            assert body["code"] == "rate_limited"
            retry_after.append(int(response.headers["Retry-After"]))
    # 30 got past the limiter (one accepted, 29 refused as a restore is already running) ...
    assert statuses[:30] == [202] + [409] * 29
    # ... and the other 70 were stopped, told to come back within the minute.
    assert statuses[30:] == [429] * 70
    assert all(1 <= seconds <= 60 for seconds in retry_after)
    # Another user is not affected, nor the same user's other actions.
    other = f"burst-other-{stack.kind}"
    assert stack.restore(_upload(stack, other).json()["id"], user=other).status_code == 202
    assert _upload(stack, user, seed=1).status_code == 201


def test_animate_is_limited(limited_stack: Stack) -> None:
    stack = limited_stack
    user = f"animator-{stack.kind}"
    photo = _upload(stack, user).json()
    codes = [
        stack.client.post(
            f"/api/v1/photos/{photo['id']}/animate", headers=stack.auth(user)
        ).status_code
        for _ in range(12)
    ]
    assert codes[10:] == [429, 429]
    assert 429 not in codes[:10]


def test_unauthenticated_requests_are_refused_before_counting(limited_stack: Stack) -> None:
    stack = limited_stack
    for _ in range(3):
        assert stack.client.post("/api/v1/photos").status_code == 401


def test_per_address_limit_spans_users(tmp_path: Path) -> None:
    """Restore limit 3 a user, address limit 2 × 3 = 6: two users use the address's allowance and
    a third user from the same address is refused at once."""
    from tests.support.stack import stack_settings

    values = stack_settings(
        "embedded",
        tmp_path,
        rate_limit_restore_per_minute=3,
        rate_limit_per_ip_multiplier=2,
    )
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    from rekindle.migrate import upgrade

    upgrade(settings.sqlalchemy_url)
    with serve_api(settings) as (base_url, runtime):
        import httpx

        with httpx.Client(base_url=base_url, timeout=30) as client:

            def restore(user: str) -> httpx.Response:
                auth = {"Authorization": f"Bearer {runtime.verifier.issue_local(user, None, 600)}"}
                upload = client.post(
                    "/api/v1/photos",
                    headers=auth,
                    files={"file": ("p.png", small_png(), "image/png")},
                )
                return client.post(f"/api/v1/photos/{upload.json()['id']}/restore", headers=auth)

            assert [restore("ip-a").status_code for _ in range(3)] == [202] * 3
            refused_user = restore("ip-a")
            assert refused_user.status_code == 429
            assert "you" in refused_user.json()["error"]["message"]
            assert [restore("ip-b").status_code for _ in range(3)] == [202] * 3
            refused_address = restore("ip-c")
            assert refused_address.status_code == 429
            assert "network address" in refused_address.json()["error"]["message"]
            assert refused_address.json()["error"]["limit"] == 6


def test_limits_can_be_switched_off(tmp_path: Path) -> None:
    from tests.support.stack import stack_settings

    values = stack_settings(
        "embedded", tmp_path, rate_limit_enabled=False, rate_limit_upload_per_minute=1
    )
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    from rekindle.migrate import upgrade

    upgrade(settings.sqlalchemy_url)
    with serve_api(settings) as (base_url, runtime):
        import httpx

        auth = {"Authorization": f"Bearer {runtime.verifier.issue_local('free', None, 600)}"}
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for seed in range(3):
                response = client.post(
                    "/api/v1/photos",
                    headers=auth,
                    files={"file": ("p.png", small_png(seed), "image/png")},
                )
                assert response.status_code == 201
