"""Buying credits from the page when Stripe is configured (against the local Stripe stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.credits.conftest import billing_overrides
from tests.credits.fake_stripe import FakeStripe, fake_stripe
from tests.credits.helpers import STRIPE_KEY
from tests.support.stack import Stack, running_stack, stack_settings
from tests.web.conftest import local_account
from tests.web.test_page import sign_in


@pytest.fixture(scope="module")
def billing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FakeStripe]]:
    with fake_stripe(STRIPE_KEY, {"price_starter": 900}) as stripe_api:
        values = stack_settings(
            "embedded", tmp_path_factory.mktemp("web-billing"), **billing_overrides(stripe_api)
        )
        with running_stack(values, "embedded", worker=False) as stack:
            yield stack, stripe_api


def test_buy_a_pack_goes_to_stripe_checkout(
    billing_stack: tuple[Stack, FakeStripe], browser: Any
) -> None:
    stack, stripe_api = billing_stack
    local_account(stack, "buyer@example.com")
    context = browser.new_context()
    page = context.new_page()
    # Stripe's hosted page is on the internet; answer for it here and record the visit.
    page.route("https://checkout.stripe.com/**", lambda route: route.fulfill(body="Stripe"))
    try:
        sign_in(page, stack, "buyer@example.com")
        page.get_by_role("button", name="Buy").click()
        dialog = page.locator("#buy-dialog")
        dialog.wait_for(state="visible")
        packs = dialog.locator("#buy-packs button")
        assert packs.all_inner_texts() == ["gone: 5 credits", "Starter: 50 credits"]
        with page.expect_navigation(url="https://checkout.stripe.com/**"):
            dialog.get_by_role("button", name="Starter: 50 credits").click()
        assert page.url.startswith("https://checkout.stripe.com/c/pay/")
        created = stripe_api.sessions_created()
        assert len(created) == 1 and created[0]["line_items[0][price]"] == "price_starter"
    finally:
        context.close()
