"""Crafted query values and headers get a 4xx, never a 500 (issue 12), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.support.stack import Stack


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


NAIVE = _cursor(f"2020-01-01T00:00:00|{uuid.uuid4()}")
OUT_OF_RANGE = _cursor(f"0001-01-01T00:00:00+14:00|{uuid.uuid4()}")


@pytest.mark.parametrize("path", ["/api/v1/photos", "/api/v1/me/credits"])
@pytest.mark.parametrize("cursor", [NAIVE, OUT_OF_RANGE], ids=["naive", "out-of-range"])
def test_crafted_cursor_is_400(api: Stack, path: str, cursor: str) -> None:
    response = api.client.get(path, params={"cursor": cursor}, headers=api.auth("cursor-user"))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("path", ["/api/v1/photos", "/api/v1/me/credits"])
def test_a_cursor_the_api_made_still_works(api: Stack, path: str) -> None:
    aware = _cursor(f"2020-01-01T00:00:00+00:00|{uuid.uuid4()}")
    response = api.client.get(path, params={"cursor": aware}, headers=api.auth("cursor-user"))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("value", ["²", "١٢", "1-²", "9" * 30, "12abc", "-1"])
@pytest.mark.parametrize("where", ["query", "header"])
def test_crafted_last_event_id_is_400(api: Stack, value: str, where: str) -> None:
    headers: dict[str, str | bytes] = {**api.auth("events-user")}
    params = {}
    if where == "header":
        headers["Last-Event-ID"] = value.encode()  # raw UTF-8 bytes, as a client may send
    else:
        params["last_event_id"] = value
    with api.client.stream("GET", "/api/v1/events", params=params, headers=headers) as response:
        assert response.status_code == 400
        response.read()
        assert response.json()["error"]["code"] == "invalid_event_id"
