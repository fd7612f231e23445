"""Local accounts: Argon2id hashes, `rekindle users create`, and the OAuth 2.0 password grant
(RFC 6749 section 4.3) at POST /api/v1/auth/token."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from rekindle.auth.local_accounts import authenticate, create_local_user
from rekindle.db import session_scope
from rekindle.errors import Conflict
from rekindle.models import User
from tests.support.stack import Stack

TOKEN_URL = "/api/v1/auth/token"


def test_users_create_and_password_grant(stack: Stack) -> None:
    email = f"Grace.{stack.kind}@Example.com"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rekindle",
            "users",
            "create",
            email,
            "--password",
            "hunter22-lantern!",
        ],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    user_id = result.stdout.strip()
    with stack.runtime.sessions() as session:
        user = session.scalars(select(User).where(User.id == user_id)).one()
        assert user.email == email.lower()
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert "hunter22-lantern!" not in user.password_hash
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "rekindle",
            "users",
            "create",
            email.upper(),
            "--password",
            "quiet-harbour-lamp",
        ],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "already exists" in again.stderr

    form = {"grant_type": "password", "username": email, "password": "hunter22-lantern!"}
    response = stack.client.post(TOKEN_URL, data=form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = stack.client.get(
        "/api/v1/photos", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert stack.runtime.verifier.verify(body["access_token"]).subject == user_id

    for changed, code in [
        ({"password": "wrong-password"}, "invalid_grant"),
        ({"username": "nobody@example.com"}, "invalid_grant"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"password": ""}, "invalid_request"),
    ]:
        response = stack.client.post(TOKEN_URL, data={**form, **changed})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code


def test_auth_config_says_local(stack: Stack) -> None:
    body = stack.client.get("/api/v1/auth/config").json()
    assert body["mode"] == "local" and body["token_url"] == TOKEN_URL


def test_emails_are_unique_among_local_accounts(stack: Stack) -> None:
    email = f"twice-{stack.kind}@example.com"
    with session_scope(stack.runtime.sessions) as session:
        create_local_user(session, email, "long-enough-gallery", stack.settings)
    with pytest.raises(Conflict), session_scope(stack.runtime.sessions) as session:
        create_local_user(session, email, "long-enough-gallery", stack.settings)
    with stack.runtime.sessions() as session:
        assert authenticate(session, email, "long-enough-gallery") is not None
        assert authenticate(session, email, "not-it-at-all") is None


def test_with_an_identity_provider_the_page_is_told_to_defer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from rekindle.app import create_app
    from rekindle.config import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        rekindle_data_dir=tmp_path,
        auth_hs256_secret="s" * 32,
        auth_issuer="https://abc.supabase.co/auth/v1",
        auth_audience="authenticated",
    )
    with TestClient(create_app(settings)) as client:
        config = client.get("/api/v1/auth/config").json()
        assert config["mode"] == "external" and config["provider"] == "supabase"
        assert config["token_url"] is None
        response = client.post(
            TOKEN_URL, data={"grant_type": "password", "username": "a@b.co", "password": "x" * 9}
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "local_accounts_disabled"
