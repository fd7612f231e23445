"""`rekindle credits grant`: an operator adds credits; a reused reference changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.credits.helpers import balance, new_user, rows
from tests.support.stack import Stack


def _grant(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rekindle", "credits", "grant", *args],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_operator_grants_credits(credits_stack: Stack) -> None:
    stack = credits_stack
    user = new_user(stack, "granted")
    done = _grant(stack, "--user", user, "--amount", "25", "--reason", "support ticket 42")
    assert done.returncode == 0, done.stderr
    assert f"granted 25 credits to {user}: balance 35" in done.stdout
    assert balance(stack, user) == 35
    last = rows(stack, user)[-1]
    assert (last.kind, last.delta, last.reason) == ("grant", 25, "support ticket 42")
    assert last.reference.startswith("admin:")

    args = ["--user", user, "--amount", "5", "--reason", "goodwill", "--reference", f"t-{user}"]
    assert _grant(stack, *args).returncode == 0
    rerun = _grant(stack, *args)
    assert rerun.returncode == 0 and "already applied" in rerun.stderr
    assert balance(stack, user) == 40

    missing = _grant(stack, "--user", "nobody-here", "--amount", "5", "--reason", "x")
    assert missing.returncode != 0 and "No such user" in missing.stderr
    zero = _grant(stack, "--user", user, "--amount", "0", "--reason", "x")
    assert zero.returncode != 0
    assert balance(stack, user) == 40
