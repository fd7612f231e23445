"""Sign-in sessions: the HttpOnly refresh cookie, `POST /auth/refresh` (CSRF header, rotation,
reuse detection) and `POST /auth/signout` (server-side revocation), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from rekindle.auth.local_accounts import create_local_user
from rekindle.auth.sessions import token_hash
from rekindle.db import session_scope, utcnow
from rekindle.models import AuthSession
from tests.auth.conftest import api_stack
from tests.support.stack import Stack

PASSWORD = "correct horse battery staple"
CSRF = {"X-Rekindle-CSRF": "1"}


@pytest.fixture(scope="module", params=["embedded", "production"])
def auth_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with api_stack(request.param, tmp_path_factory.mktemp(f"sessions-{request.param}")) as stack:
        yield stack


def _account(stack: Stack) -> str:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    with session_scope(stack.runtime.sessions) as session:
        create_local_user(session, email, PASSWORD, stack.settings)
    return email


def _sign_in(stack: Stack, email: str, client: httpx.Client) -> httpx.Response:
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    response = client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return response


def _cookie_attributes(response: httpx.Response) -> dict[str, str]:
    [header] = [h for h in response.headers.get_list("set-cookie") if "rekindle_refresh=" in h]
    parts = [p.strip() for p in header.split(";")]
    attributes = {p.split("=", 1)[0].lower(): ([*p.split("=", 1), ""])[1] for p in parts[1:]}
    attributes["value"] = parts[0].split("=", 1)[1]
    return attributes


def _photos(stack: Stack, token: str) -> httpx.Response:
    return stack.client.get("/api/v1/photos", headers={"Authorization": f"Bearer {token}"})


def test_sign_in_sets_an_http_only_strict_cookie_and_refresh_rotates_it(auth_stack: Stack) -> None:
    email = _account(auth_stack)
    with httpx.Client(base_url=auth_stack.base_url) as browser:
        signed_in = _sign_in(auth_stack, email, browser)
        cookie = _cookie_attributes(signed_in)
        assert "httponly" in cookie and cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/api/v1/auth"
        assert int(cookie["max-age"]) == auth_stack.settings.session_ttl_days * 86400
        assert "secure" not in cookie  # plain http on loopback (rekindle serve on a laptop)
        first = signed_in.json()
        assert first["expires_in"] == auth_stack.settings.session_access_token_ttl_seconds
        assert _photos(auth_stack, first["access_token"]).status_code == 200
        with auth_stack.runtime.sessions() as session:  # only a hash is stored
            stored = session.scalars(select(AuthSession.token_hash)).all()
            assert token_hash(cookie["value"]) in stored and cookie["value"] not in stored

        refreshed = browser.post("/api/v1/auth/refresh", headers=CSRF)
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.headers["cache-control"] == "no-store"
        rotated = _cookie_attributes(refreshed)
        assert rotated["value"] != cookie["value"]
        body = refreshed.json()
        assert body["token_type"] == "bearer" and body["expires_in"] > 0
        assert _photos(auth_stack, body["access_token"]).status_code == 200

    # A new tab: the browser sends the (rotated) cookie; no token was kept anywhere by the page.
    with httpx.Client(base_url=auth_stack.base_url) as new_tab:
        new_tab.cookies.set("rekindle_refresh", rotated["value"], path="/api/v1/auth")
        assert new_tab.post("/api/v1/auth/refresh", headers=CSRF).status_code == 200


def test_refresh_and_signout_need_the_csrf_header(auth_stack: Stack) -> None:
    email = _account(auth_stack)
    with httpx.Client(base_url=auth_stack.base_url) as browser:
        _sign_in(auth_stack, email, browser)
        for path in ("/api/v1/auth/refresh", "/api/v1/auth/signout"):
            refused = browser.post(path)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "csrf_header_missing"
            wrong = browser.post(path, headers={"X-Rekindle-CSRF": "yes"})
            assert wrong.status_code == 403
        # Nothing was revoked by the refused sign-out.
        assert browser.post("/api/v1/auth/refresh", headers=CSRF).status_code == 200


def test_refresh_without_a_usable_cookie_is_401_and_clears_it(auth_stack: Stack) -> None:
    with httpx.Client(base_url=auth_stack.base_url) as browser:
        none = browser.post("/api/v1/auth/refresh", headers=CSRF)
        assert none.status_code == 401 and none.json()["error"]["code"] == "session_invalid"
        browser.cookies.set("rekindle_refresh", "made-up", path="/api/v1/auth")
        made_up = browser.post("/api/v1/auth/refresh", headers=CSRF)
        assert made_up.status_code == 401
        assert _cookie_attributes(made_up)["max-age"] == "0"


def test_sign_out_revokes_the_session_and_its_access_tokens(auth_stack: Stack) -> None:
    email = _account(auth_stack)
    with httpx.Client(base_url=auth_stack.base_url) as browser:
        token = _sign_in(auth_stack, email, browser).json()["access_token"]
        cookie = browser.cookies.get("rekindle_refresh")
        assert _photos(auth_stack, token).status_code == 200
        out = browser.post("/api/v1/auth/signout", headers=CSRF)
        assert out.status_code == 204
        assert _cookie_attributes(out)["max-age"] == "0"
        revoked = _photos(auth_stack, token)
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "session_revoked"
    with httpx.Client(base_url=auth_stack.base_url) as thief:
        thief.cookies.set("rekindle_refresh", cookie, path="/api/v1/auth")
        assert thief.post("/api/v1/auth/refresh", headers=CSRF).status_code == 401
    # Signing out with no session is harmless.
    assert auth_stack.client.post("/api/v1/auth/signout", headers=CSRF).status_code == 204


def test_two_tabs_refreshing_at_once_both_succeed_but_a_stale_copy_revokes(
    auth_stack: Stack,
) -> None:
    email = _account(auth_stack)
    with httpx.Client(base_url=auth_stack.base_url) as browser:
        _sign_in(auth_stack, email, browser)
        old = browser.cookies.get("rekindle_refresh")
        assert browser.post("/api/v1/auth/refresh", headers=CSRF).status_code == 200
        current = browser.cookies.get("rekindle_refresh")
    # A second tab still sent the old value (its request left before the rotation landed).
    with httpx.Client(base_url=auth_stack.base_url) as tab:
        tab.cookies.set("rekindle_refresh", old, path="/api/v1/auth")
        late = tab.post("/api/v1/auth/refresh", headers=CSRF)
        assert late.status_code == 200, late.text
        assert "rekindle_refresh" not in late.headers.get("set-cookie", "")
    # Long after the rotation the old value means a copied cookie: the whole session ends.
    with session_scope(auth_stack.runtime.sessions) as session:
        session.execute(
            update(AuthSession)
            .where(AuthSession.previous_hash == token_hash(old))
            .values(rotated_at=utcnow() - timedelta(minutes=5))
        )
    with httpx.Client(base_url=auth_stack.base_url) as thief:
        thief.cookies.set("rekindle_refresh", old, path="/api/v1/auth")
        assert thief.post("/api/v1/auth/refresh", headers=CSRF).status_code == 401
    with httpx.Client(base_url=auth_stack.base_url) as owner:
        owner.cookies.set("rekindle_refresh", current, path="/api/v1/auth")
        assert owner.post("/api/v1/auth/refresh", headers=CSRF).status_code == 401


def test_cookie_is_secure_anywhere_but_loopback_http(auth_stack: Stack) -> None:
    email = _account(auth_stack)
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    response = auth_stack.client.post(
        "/api/v1/auth/token", data=form, headers={"Host": "photos.example.org"}
    )
    assert response.status_code == 200
    assert "secure" in _cookie_attributes(response)
