"""Send the sign-up emails over SMTP with aiosmtplib.

aiosmtplib is a maintained SMTP client (RFC 5321) that handles implicit TLS (`smtps://`, port
465), STARTTLS upgrades when the server offers them (RFC 3207), AUTH, and a timeout on every
step; the message itself is the standard library's `EmailMessage`. It is asyncio-based; the
endpoints run in worker threads with no event loop, so each send runs its own short loop.

`SMTP_URL` is `smtp://[user[:password]@]host[:port]` (default port 587, STARTTLS when offered) or
`smtps://[user[:password]@]host[:port]` (default port 465, TLS from the start); user and password
are URL-encoded.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from rekindle.config import Settings
from rekindle.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def _server(smtp_url: str) -> dict[str, object]:
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://...")
    implicit_tls = parts.scheme == "smtps"
    return {
        "hostname": parts.hostname,
        "port": parts.port or (465 if implicit_tls else 587),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_tls": implicit_tls,
        # None: upgrade with STARTTLS when the server offers it (aiosmtplib's default).
        "start_tls": False if implicit_tls else None,
    }


def send_mail(settings: Settings, to: str, subject: str, text: str) -> None:
    """Send a plain-text email to `to` through `SMTP_URL`, from `SMTP_FROM`.

    Raises ServiceUnavailable (`email_unavailable`) when the server cannot be reached, refuses
    the message or does not answer within `SMTP_TIMEOUT_SECONDS`; RuntimeError when no SMTP_URL
    is configured."""
    if not settings.smtp_url:
        raise RuntimeError("SMTP_URL is not configured")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    server = _server(settings.smtp_url)
    try:
        asyncio.run(
            aiosmtplib.send(message, timeout=settings.smtp_timeout_seconds, **server)  # type: ignore[arg-type]
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("could not send mail via %s: %s", server["hostname"], exc)
        raise ServiceUnavailable(
            "The verification email could not be sent; nothing was created. Please retry later.",
            code="email_unavailable",
        ) from exc
