"""A deleted account's tokens get 401, and nothing creates the account again (issue 12): local
tokens, local password accounts and identity-provider JWTs, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from sqlalchemy import select

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
from rekindle.models import DeletedSubject, User
from tests.accounts.conftest import api_stack
from tests.support.stack import Stack

SECRET = "provider-jwt-secret-" * 3
ISSUER = "https://abc.supabase.co/auth/v1"


def user_row(stack: Stack, subject: str) -> User | None:
    with stack.runtime.sessions() as session:
        return session.scalars(select(User).where(User.id == subject)).one_or_none()


def assert_revoked(stack: Stack, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/photos"),
        ("DELETE", "/api/v1/me"),
    ]:
        response = stack.client.request(method, path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "account_deleted"


def test_local_token_of_a_deleted_account_is_refused(api: Stack) -> None:
    subject = f"leaver-{api.kind}"
    headers = api.auth(subject)
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200
    assert api.client.delete("/api/v1/me", headers=headers).status_code == 204
    assert_revoked(api, headers)
    # A token issued afterwards for the same subject is refused too (the subject is tombstoned).
    assert_revoked(api, api.auth(subject))
    with api.client.stream("GET", "/api/v1/events", headers=headers) as stream:
        assert stream.status_code == 401
    assert user_row(api, subject) is None
    with api.runtime.sessions() as session:
        tombstones = list(session.scalars(select(DeletedSubject.subject_sha256)))
    assert subject not in tombstones  # only its hash is kept


def test_deleted_password_account_cannot_sign_in_or_use_its_token(api: Stack) -> None:
    email = f"gone-{api.kind}@example.com"
    with session_scope(api.runtime.sessions) as session:
        user_id = create_local_user(session, email, "amber-tidal-compass", api.settings).id
    form = {"grant_type": "password", "username": email, "password": "amber-tidal-compass"}
    token = api.client.post("/api/v1/auth/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.delete("/api/v1/me", headers=headers).status_code == 204
    assert_revoked(api, headers)
    assert api.client.post("/api/v1/auth/token", data=form).status_code == 400
    assert user_row(api, user_id) is None


@pytest.fixture(scope="module", params=["embedded", "production"])
def provider(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """The API signing people in through an identity provider (Supabase-style HS256 JWTs)."""
    data_dir = tmp_path_factory.mktemp(f"provider-{request.param}")
    with api_stack(
        request.param,
        data_dir,
        s3_endpoint,
        auth_hs256_secret=SECRET,
        auth_issuer=ISSUER,
        auth_audience="authenticated",
    ) as stack:
        yield stack


def provider_token(subject: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": subject, "aud": "authenticated", "iss": ISSUER, "iat": now, "exp": now + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def test_provider_subject_of_a_deleted_account_is_never_recreated(provider: Stack) -> None:
    subject = f"2f0c-{provider.kind}-user"
    headers = provider_token(subject)
    assert provider.client.get("/api/v1/me", headers=headers).status_code == 200
    assert provider.client.delete("/api/v1/me", headers=headers).status_code == 204
    # The provider keeps issuing valid tokens for the subject; none of them brings it back.
    assert_revoked(provider, headers)
    assert_revoked(provider, provider_token(subject))
    assert user_row(provider, subject) is None
    # Other subjects are unaffected.
    assert (
        provider.client.get("/api/v1/me", headers=provider_token("someone-else")).status_code == 200
    )
