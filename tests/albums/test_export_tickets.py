"""One-time download tickets for ZIP exports, on both stacks: the link downloads without a token,
once, under the album's name; it is refused when used, expired, or issued for someone else's
photos, and it goes with its account."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from rekindle.db import session_scope, utcnow
from rekindle.models import ExportTicket
from tests.credits.helpers import new_user, upload
from tests.support.stack import Stack

API = "/api/v1"


def _album_with_photos(stack: Stack, user: str, name: str, count: int) -> str:
    photo_ids = [upload(stack, user, seed)["id"] for seed in range(count)]
    album = stack.client.post(f"{API}/albums", json={"name": name}, headers=stack.auth(user))
    album_id = album.json()["id"]
    added = stack.client.post(
        f"{API}/albums/{album_id}/photos", json={"photo_ids": photo_ids}, headers=stack.auth(user)
    )
    assert added.status_code == 200, added.text
    return album_id


def _ticket_path(response_json: dict[str, str]) -> str:
    url = urlsplit(response_json["url"])
    assert url.scheme in ("http", "https") and url.netloc
    return url.path


def _ticket_count(stack: Stack) -> int:
    with session_scope(stack.runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(ExportTicket)) or 0


def test_album_ticket_downloads_once_without_a_token(stack: Stack) -> None:
    user = new_user(stack, "ticket")
    album_id = _album_with_photos(stack, user, "Grand-mère's album", 2)
    issued = stack.client.post(
        f"{API}/albums/{album_id}/export-ticket",
        params={"originals": "true"},
        headers=stack.auth(user),
    )
    assert issued.status_code == 201, issued.text
    path = _ticket_path(issued.json())

    download = stack.client.get(path)  # no Authorization header: the ticket is the credential
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Grand-m%C3%A8re%27s%20album.zip" in disposition
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == [
        "manifest.json",
        "photo-0-original.jpg",
        "photo-1-original.jpg",
    ]

    again = stack.client.get(path)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "export_ticket_not_found"


def test_photo_ticket_and_refusals(stack: Stack) -> None:
    owner, other = new_user(stack, "ticket-owner"), new_user(stack, "ticket-other")
    mine = upload(stack, owner, 1)["id"]
    theirs = upload(stack, other, 2)["id"]
    album_id = _album_with_photos(stack, owner, "Mine", 1)
    before = _ticket_count(stack)

    for url, kwargs in [
        (f"{API}/exports/tickets", {"json": {"photo_ids": [mine, theirs]}}),
        (f"{API}/albums/{album_id}/export-ticket", {}),
    ]:
        refused = stack.client.post(url, headers=stack.auth(other), **kwargs)
        assert refused.status_code == 404, (url, refused.text)
    assert _ticket_count(stack) == before  # nothing stored for a refused request

    assert stack.client.get(f"{API}/exports/{uuid.uuid4().hex}").status_code == 404

    issued = stack.client.post(
        f"{API}/exports/tickets", json={"photo_ids": [mine]}, headers=stack.auth(owner)
    )
    assert issued.status_code == 201, issued.text
    with session_scope(stack.runtime.sessions) as session:
        session.execute(
            update(ExportTicket)
            .where(ExportTicket.user_id == owner)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = stack.client.get(_ticket_path(issued.json()))
    assert expired.status_code == 404
    assert expired.json()["error"]["code"] == "export_ticket_not_found"

    # A fresh ticket sweeps the expired one; deleting the account takes the rest with it.
    issued = stack.client.post(
        f"{API}/exports/tickets", json={"photo_ids": [mine]}, headers=stack.auth(owner)
    )
    assert issued.status_code == 201
    with session_scope(stack.runtime.sessions) as session:
        assert session.scalar(select(func.count()).where(ExportTicket.user_id == owner)) == 1
    assert stack.client.delete(f"{API}/me", headers=stack.auth(owner)).status_code == 204
    assert stack.client.get(_ticket_path(issued.json())).status_code == 404
