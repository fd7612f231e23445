"""Share links: create, list, revoke; the public view answers without a token and shows only the
before/after; revoked, expired and deleted links answer 404. With a real worker, on the embedded
stack and on PostgreSQL + Redis + S3."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update

from rekindle.auth.sessions import token_hash
from rekindle.db import session_scope, utcnow
from rekindle.models import ShareLink
from tests.support.stack import Stack


def _restored_photo(stack: Stack, tmp_path: Path, user: str = "alice") -> dict[str, Any]:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.png"
    Image.new("RGB", (96, 64), (120, 90, 60)).save(path)
    photo = stack.upload(path, user=user)
    assert stack.restore(photo["id"], user=user).status_code == 202
    return stack.wait_for_photo(photo["id"], ("ready",), user=user)


def _share(stack: Stack, photo_id: str, user: str = "alice", **body: Any) -> httpx.Response:
    return stack.client.post(
        f"/api/v1/photos/{photo_id}/shares", headers=stack.auth(user), json=body or None
    )


def _token(url: str) -> str:
    return url.rsplit("/s/", 1)[1]


def test_share_link_lifecycle(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(path)
    unrestored = stack.upload(path)
    nothing = _share(stack, unrestored["id"])
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_share"

    photo = _restored_photo(stack, tmp_path)
    made = _share(stack, photo["id"])
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"].startswith(f"{stack.base_url}/s/")
    token = _token(link["url"])
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 bits
    assert link["restore_id"] == photo["selected_restore_id"]
    expires = link["expires_at"]
    with stack.runtime.sessions() as session:  # only the hash is stored
        row = session.get(ShareLink, uuid.UUID(link["id"]))
        assert (
            row is not None and row.token_hash == token_hash(token) and token not in row.token_hash
        )
        assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)

    # Public: no Authorization header, no cookie.
    with httpx.Client(base_url=stack.base_url) as stranger:
        opened = stranger.get(f"/api/v1/shares/{token}")
        assert opened.status_code == 200, opened.text
        body = opened.json()
        assert set(body) == {"before_url", "after_url", "width", "height", "expires_at"}
        assert body["expires_at"][:19] == expires[:19]
        assert "alice" not in str({k: v for k, v in body.items() if not k.endswith("_url")})
        for key in ("before_url", "after_url"):
            image = httpx.get(body[key], timeout=30)
            assert image.status_code == 200
            with Image.open(io.BytesIO(image.content)) as img:
                assert img.format == "JPEG"
        page = stranger.get(f"/s/{token}")
        assert page.status_code == 200 and "share.js" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"

    listed = stack.client.get(f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth())
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [link["id"]]
    assert listed.json()["items"][0]["url"] is None

    # Another user can neither see nor revoke it.
    bob = stack.client.get(f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth("bob"))
    assert bob.status_code == 404
    bob_revoke = stack.client.delete(
        f"/api/v1/photos/{photo['id']}/shares/{link['id']}", headers=stack.auth("bob")
    )
    assert bob_revoke.status_code == 404
    assert stack.client.get(f"/api/v1/shares/{token}").status_code == 200

    revoked = stack.client.delete(
        f"/api/v1/photos/{photo['id']}/shares/{link['id']}", headers=stack.auth()
    )
    assert revoked.status_code == 204
    gone = stack.client.get(f"/api/v1/shares/{token}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "share_not_found"
    assert stack.client.get(f"/s/{token}").status_code == 404
    again = stack.client.delete(
        f"/api/v1/photos/{photo['id']}/shares/{link['id']}", headers=stack.auth()
    )
    assert again.status_code == 404
    assert stack.client.get(
        f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth()
    ).json() == {"items": []}


def test_expired_and_deleted_links_answer_404(stack: Stack, tmp_path: Path) -> None:
    photo = _restored_photo(stack, tmp_path)
    short = _share(stack, photo["id"], expires_in_days=1).json()
    kept = _share(stack, photo["id"], expires_in_days=365).json()
    assert stack.client.get(f"/api/v1/shares/{_token(short['url'])}").status_code == 200
    with session_scope(stack.runtime.sessions) as session:
        session.execute(
            update(ShareLink)
            .where(ShareLink.id == uuid.UUID(short["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert stack.client.get(f"/api/v1/shares/{_token(short['url'])}").status_code == 404
    listed = stack.client.get(f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth()).json()
    assert [item["id"] for item in listed["items"]] == [kept["id"]]

    assert stack.client.get(f"/api/v1/shares/{_token(kept['url'])}").status_code == 200
    deleted = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth())
    assert deleted.status_code == 204
    assert stack.client.get(f"/api/v1/shares/{_token(kept['url'])}").status_code == 404
    with stack.runtime.sessions() as session:  # the rows went with the photo
        assert not session.scalars(
            select(ShareLink).where(ShareLink.photo_id == uuid.UUID(photo["id"]))
        ).all()


@pytest.mark.parametrize(
    "body", [{"expires_in_days": 0}, {"expires_in_days": 366}, {"expires_in_days": "soon"}]
)
def test_bad_share_requests(stack: Stack, tmp_path: Path, body: dict[str, Any]) -> None:
    photo = stack.photo(_any_ready_photo(stack, tmp_path))
    refused = _share(stack, photo["id"], **body)
    assert refused.status_code == 422


def test_share_a_chosen_attempt_and_unknown_ones(stack: Stack, tmp_path: Path) -> None:
    photo = stack.photo(_any_ready_photo(stack, tmp_path))
    attempt = photo["restore_attempts"][0]["id"]
    chosen = _share(stack, photo["id"], restore_id=attempt)
    assert chosen.status_code == 201 and chosen.json()["restore_id"] == attempt
    unknown = _share(stack, photo["id"], restore_id=str(uuid.uuid4()))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "attempt_not_found"
    missing = _share(stack, str(uuid.uuid4()))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "photo_not_found"
    assert stack.client.get("/api/v1/shares/" + "x" * 43).status_code == 404
    anonymous = stack.client.post(f"/api/v1/photos/{photo['id']}/shares")
    assert anonymous.status_code == 401


_READY: dict[str, str] = {}


def _any_ready_photo(stack: Stack, tmp_path: Path) -> str:
    """One restored photo per stack, shared by the small tests."""
    if stack.kind not in _READY:
        _READY[stack.kind] = _restored_photo(stack, tmp_path)["id"]
    return _READY[stack.kind]
