"""Passwords are judged by zxcvbn's strength estimate, not a length rule (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rekindle.auth.local_accounts import check_password_strength, hash_password
from rekindle.errors import BadRequest


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("12345678", "common password"),
        ("password123", "common password"),
        ("aaaaaaaaaaaa", "Repeats"),
        ("qwertyuiop", "common password"),
        ("short", "at least 8 characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, says: str) -> None:
    with pytest.raises(BadRequest) as caught:
        hash_password(password)
    assert caught.value.code == "weak_password"
    assert says.lower() in caught.value.message.lower()


def test_a_password_made_of_the_email_is_weak() -> None:
    check_password_strength("zorblattquindle")  # strong for anyone else
    with pytest.raises(BadRequest) as caught:
        check_password_strength("zorblattquindle", ["zorblatt.quindle@example.com"])
    assert caught.value.code == "weak_password"


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "darkroom-safelight", "Tr0ub4dor&3x"]
)
def test_strong_passwords_are_accepted(password: str) -> None:
    assert hash_password(password).startswith("$argon2id$")


def test_very_long_passwords_are_judged_by_their_start() -> None:
    check_password_strength("plum-orchard-lantern-" * 10)  # 210 characters: estimated, accepted
    with pytest.raises(BadRequest):
        check_password_strength("x" * 2000)


def test_cli_refuses_12345678_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *[sys.executable, "-m", "rekindle", "users", "create"],
            "weak@example.com",
            "--password",
            "12345678",
        ],
        env={**os.environ, "REKINDLE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "common password" in result.stderr
