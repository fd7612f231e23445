"""Wrong passwords from strangers cannot lock an account's owner out, and credential stuffing
from one address is slowed by growing delays, not locks (issue 12). Counted in Redis
(production) and in memory (embedded)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
from tests.accounts.conftest import api_stack
from tests.support.stack import Stack

PASSWORD = "velvet-quarry-lantern"


@pytest.fixture(scope="module", params=["embedded", "production"])
def guarded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """Sign-in limits made small; the test client stands for many addresses through
    `X-Forwarded-For` (127.0.0.1 is a trusted proxy)."""
    data_dir = tmp_path_factory.mktemp(f"signin-{request.param}")
    with api_stack(
        request.param,
        data_dir,
        s3_endpoint,
        trusted_proxies="127.0.0.1",
        rate_limit_signin_per_minute=3,
        signin_delay_after_failures=4,
        signin_max_delay_seconds=2,
    ) as stack:
        yield stack


def sign_in(stack: Stack, email: str, password: str, address: str) -> httpx.Response:
    return stack.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def account(stack: Stack, name: str) -> str:
    email = f"{name}-{stack.kind}@example.com"
    with session_scope(stack.runtime.sessions) as session:
        create_local_user(session, email, PASSWORD, stack.settings)
    return email


def test_guessing_from_elsewhere_does_not_lock_the_owner_out(guarded: Stack) -> None:
    email = account(guarded, "owner")
    for _ in range(3):
        wrong = sign_in(guarded, email, "not-the-password", "203.0.113.7")
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_grant"
    # The guesser's address is stopped for this account, right password or not...
    stopped = sign_in(guarded, email, PASSWORD, "203.0.113.7")
    assert stopped.status_code == 429 and stopped.json()["error"]["code"] == "rate_limited"
    assert int(stopped.headers["retry-after"]) >= 1
    # ...but the owner, from their own address, signs in at once.
    owner = sign_in(guarded, email, PASSWORD, "198.51.100.20")
    assert owner.status_code == 200, owner.text
    assert owner.json()["token_type"] == "bearer"


def test_successful_sign_ins_are_not_counted(guarded: Stack) -> None:
    email = account(guarded, "regular")
    for _ in range(6):  # twice the failure limit, all correct
        assert sign_in(guarded, email, PASSWORD, "198.51.100.30").status_code == 200


def test_credential_stuffing_is_slowed_by_delays_not_locked(guarded: Stack) -> None:
    victims = [account(guarded, f"victim{i}") for i in range(6)]
    stuffer = "192.0.2.99"
    for email in victims[:4]:  # four failures, each against another account
        assert sign_in(guarded, email, "Password1!", stuffer).status_code == 400
    # The fifth attempt at once is told to wait (1 s after the fourth failure)...
    hurried = sign_in(guarded, victims[4], "Password1!", stuffer)
    assert hurried.status_code == 429, hurried.text
    assert hurried.headers["retry-after"] == "1"
    # ...another address is not slowed...
    assert sign_in(guarded, victims[5], PASSWORD, "198.51.100.40").status_code == 200
    # ...and after the delay the stuffer may try again: a delay, not a lock.
    time.sleep(1.1)
    assert sign_in(guarded, victims[4], "Password1!", stuffer).status_code == 400
    # The next delay doubles, capped by SIGNIN_MAX_DELAY_SECONDS (2 here).
    again = sign_in(guarded, victims[5], "Password1!", stuffer)
    assert again.status_code == 429 and again.headers["retry-after"] == "2"
