"""The account's own data: `/me`, `/me/credits`, the JSON export and account deletion, end to end
(on the production stack the deletion is checked against S3)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from rekindle.credits.ledger import anonymous_id
from rekindle.models import CreditLedgerEntry, PaymentEvent, Photo, RestoreAttempt, Scan, User
from tests.credits.helpers import (
    checkout_event,
    me,
    new_user,
    post_webhook,
    rows,
    sign,
    small_jpeg,
    upload,
)
from tests.support.stack import Stack


def test_me_shows_balance_prices_and_recent_entries(credits_stack: Stack) -> None:
    stack = credits_stack
    user = f"me-{stack.kind}-{uuid.uuid4().hex[:6]}"
    token = stack.runtime.verifier.issue_local(user, "me@example.com", 600)
    body = stack.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (body["id"], body["email"], body["credit_balance"]) == (user, "me@example.com", 10)
    assert body["prices"] == {"restore": 1, "animation": 3, "hd": 5}
    assert [(e["kind"], e["delta"], e["reference"]) for e in body["recent_ledger"]] == [
        ("grant", 10, f"signup:{user}")
    ]
    photo = upload(stack, user, 11)
    assert stack.restore(photo["id"], user=user).status_code == 202
    body = me(stack, user)
    assert body["credit_balance"] == 9
    assert body["recent_ledger"][0]["kind"] == "charge"
    assert body["recent_ledger"][0]["balance_after"] == 9
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    assert stack.client.get("/api/v1/me").status_code == 401
    assert stack.client.get("/api/v1/me/credits").status_code == 401


def test_ledger_pages(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "pages")
    for i in range(4):
        payload = checkout_event(user, credits=5 + i)
        assert post_webhook(stack, payload, sign(payload)).json()["outcome"] == "granted"
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.client.get("/api/v1/me/credits", headers=stack.auth(user), params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["credit_balance"] == 10 + 5 + 6 + 7 + 8
        seen += [item["delta"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [8, 7, 6, 5, 10]
    bad = stack.client.get("/api/v1/me/credits", headers=stack.auth(user), params={"cursor": "!"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_export_holds_profile_photos_attempts_urls_and_ledger(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "exporter")
    photo = upload(stack, user, 12)
    attempt = stack.restore(photo["id"], user=user).json()
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    payload = checkout_event(user, credits=50)
    post_webhook(stack, payload, sign(payload))
    response = stack.client.get("/api/v1/me/export", headers=stack.auth(user))
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    export = response.json()
    assert export["profile"]["id"] == user and export["profile"]["credit_balance"] == 59
    assert [p["id"] for p in export["photos"]] == [photo["id"]]
    exported = export["photos"][0]
    assert [a["id"] for a in exported["restore_attempts"]] == [attempt["id"]]
    # The URLs work: the export is enough to download everything.
    for url in (exported["original_url"], exported["restore_attempts"][0]["result_url"]):
        assert httpx.get(url, timeout=30).status_code == 200
    assert [e["kind"] for e in export["ledger"]] == ["grant", "charge", "purchase"]
    assert [p["credits"] for p in export["payments"]] == [50]
    other = stack.client.get("/api/v1/me/export", headers=stack.auth(new_user(stack, "other")))
    assert other.json()["photos"] == []


def test_export_holds_albums_and_scans(credits_stack: Stack) -> None:
    """Albums and scans are kept about the account too: a preview scan never cut into photos
    is still a stored picture of the person's."""
    stack = credits_stack
    user = new_user(stack, "album-exporter")
    photo = upload(stack, user, 13)
    album = stack.client.post("/api/v1/albums", json={"name": "Attic"}, headers=stack.auth(user))
    album_id = album.json()["id"]
    stack.client.post(
        f"/api/v1/albums/{album_id}/photos",
        json={"photo_ids": [photo["id"]]},
        headers=stack.auth(user),
    )
    scan = stack.client.post(
        "/api/v1/scans",
        params={"preview": "true"},
        headers=stack.auth(user),
        files={"file": ("attic-page.jpg", small_jpeg(8, (320, 240)), "image/jpeg")},
    ).json()

    export = stack.client.get("/api/v1/me/export", headers=stack.auth(user)).json()

    assert [(a["id"], a["name"], a["photo_ids"]) for a in export["albums"]] == [
        (album_id, "Attic", [photo["id"]])
    ]
    (exported_scan,) = export["scans"]
    assert exported_scan["id"] == scan["id"]
    assert exported_scan["original_filename"] == "attic-page.jpg"
    assert (exported_scan["width"], exported_scan["height"]) == (320, 240)
    assert httpx.get(exported_scan["scan_url"], timeout=30).status_code == 200


def test_delete_me_removes_photos_objects_and_personal_fields(credits_stack: Stack) -> None:
    stack = credits_stack
    user = f"leaver-{stack.kind}-{uuid.uuid4().hex[:6]}"
    token = stack.runtime.verifier.issue_local(user, "leaver@example.com", 600)
    auth = {"Authorization": f"Bearer {token}"}
    photos = [upload(stack, user, 20 + i) for i in range(2)]
    stack.restore(photos[0]["id"], user=user)
    stack.wait_for_photo(photos[0]["id"], ("ready",), user=user)
    payload = checkout_event(user, credits=50)
    post_webhook(stack, payload, sign(payload))
    prefix = f"users/{user}/"
    # Two originals with their thumbnails and display copies, one result and its thumbnail.
    assert len([k for k in stack.object_keys() if k.startswith(prefix)]) == 8
    kept = len(rows(stack, user))
    assert kept == 3  # grant, charge, purchase

    assert stack.client.delete("/api/v1/me", headers=auth).status_code == 204

    assert not [k for k in stack.object_keys() if k.startswith(prefix)]  # S3 on production
    anonymous = anonymous_id(user)
    with stack.runtime.sessions() as session:
        assert session.get(User, user) is None
        assert not session.scalar(select(func.count(Photo.id)).where(Photo.owner_id == user))
        assert not session.scalar(
            select(func.count(RestoreAttempt.id)).where(
                RestoreAttempt.photo_id.in_([uuid.UUID(p["id"]) for p in photos])
            )
        )
        assert not session.scalar(
            select(func.count(CreditLedgerEntry.id)).where(CreditLedgerEntry.user_id == user)
        )
        kept_rows = list(
            session.scalars(select(CreditLedgerEntry).where(CreditLedgerEntry.user_id == anonymous))
        )
        assert len(kept_rows) == kept  # kept for accounting, anonymised
        assert not [r for r in kept_rows if user in r.reference]
        payment = session.scalars(
            select(PaymentEvent).where(PaymentEvent.user_id == anonymous)
        ).one()
        assert payment.credits == 50
        assert not session.scalar(
            select(func.count(PaymentEvent.id)).where(PaymentEvent.user_id == user)
        )
        assert not session.scalar(
            select(func.count(User.id)).where(User.email == "leaver@example.com")
        )

    # The account's tokens stop working, and nothing creates the account again (issue 12;
    # tests/accounts/test_deleted_accounts.py covers identity-provider tokens).
    again = stack.client.get("/api/v1/me", headers=auth)
    assert again.status_code == 401 and again.json()["error"]["code"] == "account_deleted"
    assert stack.client.get("/api/v1/photos", headers=auth).status_code == 401
    with stack.runtime.sessions() as session:
        assert session.get(User, user) is None


def test_delete_me_removes_scans_confirmed_or_not(credits_stack: Stack) -> None:
    """A scan is stored apart from the photos cut from it; an abandoned preview has no photo at
    all. Deleting the account removes both scans' objects and rows."""
    stack = credits_stack
    user = new_user(stack, "scanner")
    prefix = f"users/{user}/"
    for params in ({"preview": "true"}, {"detect": "false"}):
        response = stack.client.post(
            "/api/v1/scans",
            params=params,
            headers=stack.auth(user),
            files={"file": ("page.jpg", small_jpeg(7, (320, 240)), "image/jpeg")},
        )
        assert response.status_code == 201, response.text
    assert [k for k in stack.object_keys() if k.startswith(f"{prefix}scans/")]

    assert stack.client.delete("/api/v1/me", headers=stack.auth(user)).status_code == 204

    assert not [k for k in stack.object_keys() if k.startswith(prefix)]
    with stack.runtime.sessions() as session:
        assert not session.scalar(select(func.count(Scan.id)).where(Scan.owner_id == user))
