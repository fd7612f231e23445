"""The API refuses bad tokens with 401 and creates a user on first sight of a good one."""

from __future__ import annotations

import jwt
from sqlalchemy import select

from rekindle.models import User
from tests.support.stack import Stack


def test_api_rejects_bad_tokens_and_creates_users(stack: Stack) -> None:
    expired = stack.token("someone", ttl=-120)
    forged = jwt.encode(
        {"sub": "someone", "exp": 9999999999, "iss": "rekindle-local", "aud": "rekindle"},
        "not-the-secret" * 3,
        algorithm="HS256",
    )
    none_alg = jwt.encode(
        {"sub": "someone", "exp": 9999999999, "iss": "rekindle-local", "aud": "rekindle"},
        None,
        algorithm="none",
    )
    for token, code in [
        (expired, "token_expired"),
        (forged, "invalid_token"),
        (none_alg, "invalid_token"),
        ("abc", "invalid_token"),
    ]:
        response = stack.client.get("/api/v1/photos", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    with stack.runtime.sessions() as session:
        assert session.scalars(select(User).where(User.id == "someone")).first() is None

    token = stack.runtime.verifier.issue_local("newcomer", "new@example.com", 600)
    response = stack.client.get("/api/v1/photos", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    with stack.runtime.sessions() as session:
        user = session.scalars(select(User).where(User.id == "newcomer")).one()
        assert user.email == "new@example.com"
