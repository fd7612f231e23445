"""Fixtures for the credits tests: a fake Stripe API and Rekindle stacks with billing configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credits.fake_stripe import FakeStripe, fake_stripe
from tests.credits.helpers import PACKS, STRIPE_KEY, WEBHOOK_SECRET
from tests.support.stack import Stack, open_stack


@pytest.fixture(scope="package")
def stripe_api() -> Iterator[FakeStripe]:
    """The fake Stripe API; `price_starter` exists there, `price_gone` does not."""
    with fake_stripe(STRIPE_KEY, {"price_starter": 900}) as fake:
        yield fake


def billing_overrides(stripe_api: FakeStripe) -> dict[str, object]:
    return {
        "stripe_secret_key": STRIPE_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stripe_api.url,
        "credit_packs": json.dumps(PACKS),
    }


@pytest.fixture(scope="package", params=["embedded", "production"])
def credits_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    s3_endpoint: str,
    stripe_api: FakeStripe,
) -> Iterator[Stack]:
    """Rekindle with a worker and Stripe configured (against the fake): embedded (SQLite, local
    folder) or production (PostgreSQL, Redis, S3 over HTTP). Default prices and free credits."""
    data_dir: Path = tmp_path_factory.mktemp(f"credits-{request.param}")
    with open_stack(
        request.param, data_dir, s3_endpoint, **billing_overrides(stripe_api)
    ) as running:
        yield running
