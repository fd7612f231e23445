"""Sign-up (`SIGNUP_ENABLED`): verified by a link mailed through a local aiosmtpd server, or active
at once without SMTP when verification is not required; rate limited; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from rekindle.config import Settings
from rekindle.models import PendingSignup, User
from tests.auth.conftest import api_stack
from tests.support.smtp import Mailbox, link_in, smtp_server
from tests.support.stack import Stack

PASSWORD = "a lantern in the attic"
CSRF = {"X-Rekindle-CSRF": "1"}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module", params=["embedded", "production"])
def mail_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[Stack]:
    with api_stack(
        request.param,
        tmp_path_factory.mktemp(f"signup-{request.param}"),
        signup_enabled=True,
        smtp_url=mailbox.url,
        smtp_from="Rekindle <hello@rekindle.test>",
        signup_credits=4,
        rate_limit_signup_per_email_per_hour=3,
        rate_limit_signup_per_hour=1000,
    ) as stack:
        yield stack


def _email() -> str:
    return f"new-{uuid.uuid4().hex[:10]}@example.com"


def _sign_up(stack: Stack, email: str, password: str = PASSWORD) -> httpx.Response:
    return stack.client.post("/api/v1/auth/signup", json={"email": email, "password": password})


def _sign_in(stack: Stack, email: str, password: str = PASSWORD) -> httpx.Response:
    form = {"grant_type": "password", "username": email, "password": password}
    return stack.client.post("/api/v1/auth/token", data=form)


def test_sign_up_with_the_emailed_link(mail_stack: Stack, mailbox: Mailbox) -> None:
    config = mail_stack.client.get("/api/v1/auth/config").json()
    assert config["signup_enabled"] is True and config["signup_requires_verification"] is True
    assert config["prices"] == {"restore": 1, "animate": 3, "hd": 5}

    email = _email()
    answer = _sign_up(mail_stack, email.upper())
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"status": "verification_sent"}
    assert "set-cookie" not in answer.headers  # not signed in before the address is proven
    # No account until the link is opened: signing in fails like a wrong password.
    assert _sign_in(mail_stack, email).json()["error"]["code"] == "invalid_grant"

    message = mailbox.wait_for(email)
    assert message["From"] == "Rekindle <hello@rekindle.test>"
    link = link_in(message)
    assert link.startswith(f"{mail_stack.base_url}/api/v1/auth/verify?token=")
    with mail_stack.runtime.sessions() as session:  # only a hash of the link's token is kept
        token = link.split("token=", 1)[1]
        assert session.scalar(select(func.count()).where(PendingSignup.token_hash == token)) == 0

    with httpx.Client() as browser:
        opened = browser.get(link)
        assert opened.status_code == 303
        assert opened.headers["location"] == "/?verified=1"
        cookie = browser.cookies.get("rekindle_refresh")
        assert cookie
        # The page then trades the cookie for an access token.
        browser.cookies.set("rekindle_refresh", cookie, path="/api/v1/auth")
        refreshed = browser.post(f"{mail_stack.base_url}/api/v1/auth/refresh", headers=CSRF)
        assert refreshed.status_code == 200, refreshed.text
        token = refreshed.json()["access_token"]
    account = mail_stack.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert account["email"] == email and account["credit_balance"] == 4  # SIGNUP_CREDITS
    assert _sign_in(mail_stack, email).status_code == 200

    # Opened again (a mail scanner came first, or a second click): no second account, no cookie.
    with httpx.Client() as again:
        second = again.get(link)
        assert second.headers["location"] == "/?verified=1"
        assert not again.cookies.get("rekindle_refresh")
    with mail_stack.runtime.sessions() as session:
        assert session.scalar(select(func.count()).where(User.email == email)) == 1


def test_signing_up_an_existing_address_reveals_nothing(
    mail_stack: Stack, mailbox: Mailbox
) -> None:
    email = _email()
    assert _sign_up(mail_stack, email).status_code == 201
    with httpx.Client() as browser:
        assert browser.get(link_in(mailbox.wait_for(email))).status_code == 303
    again = _sign_up(mail_stack, email, "another long passphrase")
    assert again.status_code == 201 and again.json() == {"status": "verification_sent"}
    notice = mailbox.wait_for(email, count=2)
    assert "already has one" in notice.get_content()
    assert "token=" not in notice.get_content()
    # The password did not change.
    assert _sign_in(mail_stack, email).status_code == 200
    assert _sign_in(mail_stack, email, "another long passphrase").status_code == 400


def test_bad_links_and_bad_input(mail_stack: Stack, mailbox: Mailbox) -> None:
    for query in ("?token=not-a-real-token", ""):
        bad = mail_stack.client.get(f"/api/v1/auth/verify{query}")
        assert bad.status_code == 303
        assert bad.headers["location"] == "/?verified=0&reason=invalid"
    weak = _sign_up(mail_stack, _email(), "short")
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    invalid = _sign_up(mail_stack, "not-an-address", PASSWORD)
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_email"
    missing = mail_stack.client.post("/api/v1/auth/signup", json={"email": _email()})
    assert missing.status_code == 422


def test_expired_link(mail_stack: Stack, mailbox: Mailbox) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from rekindle.db import session_scope, utcnow

    email = _email()
    assert _sign_up(mail_stack, email).status_code == 201
    link = link_in(mailbox.wait_for(email))
    with session_scope(mail_stack.runtime.sessions) as session:
        session.execute(
            update(PendingSignup)
            .where(PendingSignup.email == email)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = mail_stack.client.get(link.replace(mail_stack.base_url, ""))
    assert expired.headers["location"] == "/?verified=0&reason=expired"
    assert _sign_in(mail_stack, email).status_code == 400


def test_sign_up_is_rate_limited_per_address(mail_stack: Stack, mailbox: Mailbox) -> None:
    email = _email()
    for _ in range(3):
        assert _sign_up(mail_stack, email).status_code == 201
    limited = _sign_up(mail_stack, email)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert len(mailbox.to(email)) == 3


def test_a_mail_server_in_trouble_leaves_nothing_behind(
    mail_stack: Stack, mailbox: Mailbox
) -> None:
    email = _email()
    mailbox.refuse = True
    try:
        failed = _sign_up(mail_stack, email)
    finally:
        mailbox.refuse = False
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "email_unavailable"
    with mail_stack.runtime.sessions() as session:
        assert session.scalar(select(func.count()).where(PendingSignup.email == email)) == 0


def test_without_smtp_accounts_are_active_at_once_when_allowed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with api_stack(
        "embedded",
        tmp_path_factory.mktemp("signup-open"),
        signup_enabled=True,
        signup_require_verification=False,
    ) as stack:
        config = stack.client.get("/api/v1/auth/config").json()
        assert config["signup_enabled"] and not config["signup_requires_verification"]
        email = _email()
        with httpx.Client(base_url=stack.base_url) as browser:
            made = browser.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
            assert made.status_code == 201, made.text
            body = made.json()
            assert body["status"] == "active" and body["token_type"] == "bearer"
            assert browser.cookies.get("rekindle_refresh")
            assert browser.post("/api/v1/auth/refresh", headers=CSRF).status_code == 200
        account = stack.client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        ).json()
        assert account["credit_balance"] == stack.settings.free_credits  # SIGNUP_CREDITS unset
        taken = stack.client.post(
            "/api/v1/auth/signup", json={"email": email, "password": PASSWORD}
        )
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "email_taken"


def test_sign_up_is_off_by_default_and_needs_a_way_to_verify(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with api_stack("embedded", tmp_path_factory.mktemp("signup-off")) as stack:
        assert stack.client.get("/api/v1/auth/config").json()["signup_enabled"] is False
        off = stack.client.post(
            "/api/v1/auth/signup", json={"email": _email(), "password": PASSWORD}
        )
        assert off.status_code == 404 and off.json()["error"]["code"] == "signup_disabled"
    with pytest.raises(ValidationError, match="SMTP_URL"):
        Settings(_env_file=None, signup_enabled=True)  # type: ignore[call-arg]


def test_smtp_url_forms() -> None:
    from rekindle.auth.mailer import _server

    plain = _server("smtp://user%40example.com:p%3Ass@mail.example.com")
    assert plain["port"] == 587 and plain["start_tls"] is None and plain["use_tls"] is False
    assert plain["username"] == "user@example.com" and plain["password"] == "p:ss"
    implicit = _server("smtps://mail.example.com")
    assert implicit["port"] == 465 and implicit["use_tls"] is True
    with pytest.raises(ValueError):
        _server("http://mail.example.com")
    assert urlsplit("smtp://h:2525").port == 2525
