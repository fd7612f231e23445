"""Fixtures for the whole suite: real services and running stacks (see tests/support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rekindle.logcontext import new_context
from tests.support.services import moto_s3
from tests.support.stack import Stack, open_stack


@pytest.fixture(autouse=True)
def fresh_log_context() -> Iterator[None]:
    """Each test logs in a context of its own: a test that calls a request dependency directly
    (`current_user` binds `user_id`) must not leave that field on the next test's log lines."""
    with new_context():
        yield


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """Rekindle with the `classic` engine, on each configuration in turn."""
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    with open_stack(request.param, data_dir, s3_endpoint) as running:
        yield running
