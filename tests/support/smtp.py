"""A local SMTP server (aiosmtpd) that keeps what it receives, for the sign-up emails."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.stack import free_port


@dataclass
class Mailbox:
    """Messages the server accepted, oldest first; `url` is the `SMTP_URL` that reaches it."""

    url: str
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False
    """When True the server answers 451 to every message (a mail server in trouble)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Requested action aborted: local error in processing"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> EmailMessage:
        """The `count`-th message to `address` (waits for it); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"no message {count} to {address}; got {len(self.to(address))}")


def link_in(message: EmailMessage) -> str:
    """The first http(s) URL in a plain-text message's body."""
    body = message.get_content()
    found = re.search(r"https?://\S+", body)
    assert found, body
    return found.group(0)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """aiosmtpd listening on 127.0.0.1 (plain SMTP, no auth); yields its mailbox."""
    port = free_port()
    mailbox = Mailbox(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
