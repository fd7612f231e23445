"""Per-user storage quota and daily upload count (issue 12): 413/429 `quota_exceeded`, usage in
`GET /me`, deleting photos frees quota, every stored byte counted (original and derived), and
concurrent uploads cannot overshoot, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import pytest

from rekindle.imaging.display import make_display_copy
from rekindle.imaging.thumbnails import make_thumbnail
from rekindle.storage import keys
from tests.accounts.conftest import api_stack
from tests.credits.helpers import small_jpeg
from tests.support.stack import Stack

PHOTO = small_jpeg(seed=7, size=(640, 480))
DISPLAY = make_display_copy(PHOTO, max_side=2560)
STORED = len(PHOTO) + len(DISPLAY) + len(make_thumbnail(DISPLAY, size=400))
"""What one upload of PHOTO stores: the original, its display copy and its thumbnail (made from
the display copy; default sizes)."""


@pytest.fixture(scope="module", params=["embedded", "production"])
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """Room for three copies of PHOTO (and a half), and four uploads a day."""
    data_dir = tmp_path_factory.mktemp(f"quota-{request.param}")
    with api_stack(
        request.param,
        data_dir,
        s3_endpoint,
        storage_quota_bytes=STORED * 7 // 2,
        uploads_per_day=4,
    ) as stack:
        yield stack


def upload(stack: Stack, user: str, data: bytes = PHOTO) -> httpx.Response:
    return stack.client.post(
        "/api/v1/photos",
        headers=stack.auth(user),
        files={"file": ("photo.jpg", data, "image/jpeg")},
    )


def storage(stack: Stack, user: str) -> dict[str, Any]:
    response = stack.client.get("/api/v1/me", headers=stack.auth(user))
    assert response.status_code == 200, response.text
    return response.json()["storage"]  # type: ignore[no-any-return]


def stored_objects(stack: Stack, user: str) -> dict[str, int]:
    """Every object under the user's prefix and its size, as the store holds them."""
    prefix = keys.user_prefix(user)
    if stack.settings.s3_bucket:
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.settings.s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.settings.s3_bucket, Prefix=prefix
        )
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}
    root = stack.settings.data_dir / "objects"
    return {
        str(path.relative_to(root)): path.stat().st_size
        for path in (root / prefix).rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def test_concurrent_uploads_stop_at_the_quota_and_deleting_frees_it(limited: Stack) -> None:
    user = f"filler-{limited.kind}"
    assert storage(limited, user) == {
        "used_bytes": 0,
        "quota_bytes": STORED * 7 // 2,
        "uploads_today": 0,
        "uploads_per_day": 4,
    }
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: upload(limited, user), range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 3 + [413] * 5, [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 413).json()["error"]
    assert refused["code"] == "quota_exceeded"
    assert "delete photos" in refused["message"]
    usage = storage(limited, user)
    assert (usage["used_bytes"], usage["uploads_today"]) == (3 * STORED, 3)
    # The refused uploads left nothing behind; what is counted is what is stored.
    assert sum(stored_objects(limited, user).values()) == 3 * STORED
    # Deleting a photo frees its bytes at once: a fourth upload fits.
    first = next(a for a in answers if a.status_code == 201).json()["id"]
    assert (
        limited.client.delete(f"/api/v1/photos/{first}", headers=limited.auth(user)).status_code
        == 204
    )
    assert storage(limited, user)["used_bytes"] == 2 * STORED
    assert upload(limited, user).status_code == 201
    # Four uploads today: the fifth is refused by the daily count, whatever room there is.
    second = limited.client.get("/api/v1/photos", headers=limited.auth(user)).json()["items"][0]
    limited.client.delete(f"/api/v1/photos/{second['id']}", headers=limited.auth(user))
    daily = upload(limited, user)
    assert daily.status_code == 429, daily.text
    assert daily.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(daily.headers["retry-after"]) <= 86_400
    assert storage(limited, user) == {
        "used_bytes": 2 * STORED,
        "quota_bytes": STORED * 7 // 2,
        "uploads_today": 4,
        "uploads_per_day": 4,
    }
    # Other users have their own quota and count.
    assert upload(limited, f"other-{limited.kind}").status_code == 201


def test_a_file_larger_than_the_room_left_is_refused_before_it_is_stored(limited: Stack) -> None:
    user = f"big-{limited.kind}"
    big = small_jpeg(seed=8, size=(2400, 1800))
    assert len(big) > STORED * 7 // 2
    response = upload(limited, user, big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "quota_exceeded"
    assert stored_objects(limited, user) == {}
    assert storage(limited, user)["uploads_today"] == 0  # a refused upload is not counted


def _wait(stack: Stack, path: str, user: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = stack.client.get(path, headers=stack.auth(user)).json()
        if body["status"] in ("completed", "failed"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish")


def test_usage_counts_every_stored_byte_of_restorations_and_animations(stack: Stack) -> None:
    """With a real worker: the restoration's result and thumbnail and the animation's video and
    thumbnail count against the quota, byte for byte what the store holds."""
    user = f"deriver-{stack.kind}"
    photo = upload(stack, user).json()
    assert storage(stack, user)["used_bytes"] == STORED
    assert stack.restore(photo["id"], user=user).status_code == 202
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    animated = stack.client.post(f"/api/v1/photos/{photo['id']}/animate", headers=stack.auth(user))
    assert animated.status_code == 202, animated.text
    done = _wait(stack, f"/api/v1/photos/{photo['id']}/animations/{animated.json()['id']}", user)
    assert done["status"] == "completed"
    objects = stored_objects(stack, user)
    assert len(objects) >= 5  # original, thumbnail, result, its thumbnail, video, ...
    assert storage(stack, user)["used_bytes"] == sum(objects.values())
    assert (
        stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user)).status_code
        == 204
    )
    assert storage(stack, user)["used_bytes"] == 0
