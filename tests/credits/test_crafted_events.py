"""Correctly signed Stripe events of the wrong shape get 400, are recorded, and grant nothing
(issue 12: they used to answer 500)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.credits.helpers import (
    balance,
    checkout_event,
    new_user,
    payment_events,
    post_webhook,
    rows,
    sign,
)
from tests.support.stack import Stack


def _data_list(event: dict[str, Any]) -> None:
    event["data"] = [event["data"]]


def _metadata_list(event: dict[str, Any]) -> None:
    obj = event["data"]["object"]
    obj["metadata"] = list(obj["metadata"].items())


def _huge_credits(event: dict[str, Any]) -> None:
    event["data"]["object"]["metadata"]["credits"] = "9" * 40


def _credits_over_the_bound(event: dict[str, Any]) -> None:
    event["data"]["object"]["metadata"]["credits"] = "2147483647"


def _credits_superscript(event: dict[str, Any]) -> None:
    event["data"]["object"]["metadata"]["credits"] = "²"


def _session_id_object(event: dict[str, Any]) -> None:
    event["data"]["object"]["id"] = {"nested": True}


def _amount_huge(event: dict[str, Any]) -> None:
    event["data"]["object"]["amount_total"] = 10**30


MALFORMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "data as list": _data_list,
    "metadata as list": _metadata_list,
    "huge credit count": _huge_credits,
    "credits past the bound": _credits_over_the_bound,
    "superscript digit": _credits_superscript,
    "session id an object": _session_id_object,
    "amount_total overflow": _amount_huge,
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_signed_malformed_event_is_400_recorded_and_grants_nothing(
    credits_stack: Stack, case: str
) -> None:
    stack = credits_stack
    user = new_user(stack, "malformed")
    event = json.loads(checkout_event(user))
    MALFORMED[case](event)
    payload = json.dumps(event).encode()
    response = post_webhook(stack, payload, sign(payload))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_payload"
    assert balance(stack, user) == 10
    assert [r.kind for r in rows(stack, user)] == ["grant"]  # only the signup grant
    recorded = [e for e in payment_events(stack) if e.event_id == event["id"]]
    assert len(recorded) == 1
    assert (recorded[0].outcome, recorded[0].credits) == ("malformed", 0)
    # Delivered again: still 400, still one record, still nothing granted.
    again = post_webhook(stack, payload, sign(payload))
    assert again.status_code == 400
    assert len([e for e in payment_events(stack) if e.event_id == event["id"]]) == 1
    assert balance(stack, user) == 10
