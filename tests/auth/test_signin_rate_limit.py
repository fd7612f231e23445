"""Password guessing is slowed: sign-in attempts are rate-limited per account and per address."""

from __future__ import annotations

from pathlib import Path

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
from tests.support.stack import running_stack, stack_settings


def test_signin_attempts_are_limited_per_account(tmp_path: Path) -> None:
    values = stack_settings("embedded", tmp_path, rate_limit_signin_per_minute=3)
    with running_stack(values, "embedded", worker=False) as stack:
        with session_scope(stack.runtime.sessions) as session:
            create_local_user(session, "guessed@example.com", "right-password-1", stack.settings)
            create_local_user(session, "other@example.com", "right-password-2", stack.settings)

        def sign_in(email: str, password: str) -> tuple[int, dict[str, object], dict[str, str]]:
            response = stack.client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": password},
            )
            return response.status_code, response.json(), dict(response.headers)

        for _ in range(3):
            status, body, _ = sign_in("guessed@example.com", "wrong")
            assert status == 400 and body["error"]["code"] == "invalid_grant"  # type: ignore[index]
        # The fourth attempt is refused before the password is even checked, right or wrong.
        status, body, headers = sign_in("Guessed@Example.com", "right-password-1")
        assert status == 429 and body["error"]["code"] == "rate_limited"  # type: ignore[index]
        assert int(headers["retry-after"]) >= 1
        # Another account is not locked out by someone guessing this one.
        status, body, _ = sign_in("other@example.com", "right-password-2")
        assert status == 200 and body["token_type"] == "bearer"
