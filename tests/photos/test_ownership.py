"""Another user's photo answers 404 on every endpoint, and nothing of it changes."""

from __future__ import annotations

from tests.support.services import shared_photo
from tests.support.stack import Stack


def test_other_users_photo_is_404_everywhere(stack: Stack) -> None:
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user="owner-a")
    attempt = stack.restore(photo["id"], user="owner-a").json()
    stack.wait_for_photo(photo["id"], ("ready",), user="owner-a")
    pid, aid = photo["id"], attempt["id"]
    intruder = stack.auth("intruder-b")
    calls = [
        ("GET", f"/api/v1/photos/{pid}", None),
        ("DELETE", f"/api/v1/photos/{pid}", None),
        ("POST", f"/api/v1/photos/{pid}/restore", {}),
        ("GET", f"/api/v1/photos/{pid}/restores/{aid}", None),
        ("POST", f"/api/v1/photos/{pid}/selected-restore", {"attempt_id": aid}),
    ]
    for method, url, body in calls:
        response = stack.client.request(method, url, headers=intruder, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"]["code"] in ("photo_not_found", "attempt_not_found")
    listing = stack.client.get("/api/v1/photos", headers=intruder).json()
    assert pid not in [item["id"] for item in listing["items"]]
    after = stack.photo(pid, user="owner-a")
    assert after["status"] == "ready" and len(after["restore_attempts"]) == 1


def test_every_photo_endpoint_needs_a_token(stack: Stack) -> None:
    for method, url in [
        ("GET", "/api/v1/photos"),
        ("POST", "/api/v1/photos"),
        ("GET", "/api/v1/photos/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/photos/00000000-0000-0000-0000-000000000000/restore"),
        ("GET", "/api/v1/engines"),
    ]:
        response = stack.client.request(method, url)
        assert response.status_code == 401, (method, url)
        assert response.json()["error"]["code"] == "unauthorized"
    assert stack.client.get("/healthz").status_code == 200
    assert stack.client.get("/readyz").json()["checks"] == {
        "database": "ok",
        "queue": "ok",
        "storage": "ok",
    }
