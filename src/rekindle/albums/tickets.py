"""One-time download tickets for ZIP exports. Functions take a Session and never commit.

The page cannot put its bearer token on a link, and fetching the ZIP with `fetch()` would hold the
whole archive in the browser's memory. So a signed-in request takes a ticket (`issue_ticket`) and
the browser navigates to the ticket's URL, streaming the ZIP to disk. A ticket is a
`secrets.token_urlsafe(32)` (256 bits); only its SHA-256 is stored. It opens one download within
`TICKET_TTL_SECONDS`: redeeming deletes the row in the same statement that reads it, so two
requests racing with one ticket cannot both get it. It goes with its account (ON DELETE CASCADE).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from rekindle.albums import export
from rekindle.auth.sessions import new_token, token_hash
from rekindle.db import utcnow
from rekindle.errors import NotFound
from rekindle.models import ExportTicket

TICKET_TTL_SECONDS = 300
"""How long a ticket stays valid (seconds): long enough for a click, short like a presigned URL."""


def issue_ticket(
    session: Session,
    owner_id: str,
    photo_ids: Sequence[uuid.UUID],
    *,
    originals: bool,
    animations: bool,
    filename: str,
) -> tuple[str, datetime]:
    """A ticket (shown once) and its expiry (UTC) for a ZIP of the owner's `photo_ids`, offered
    as `filename`. Expired tickets are swept first, so the table stays small. Raises NotFound
    (`photo_not_found`) when any photo is not the owner's, before anything is stored."""
    export.load_photos(session, owner_id, photo_ids)
    now = utcnow()
    session.execute(delete(ExportTicket).where(ExportTicket.expires_at < now))
    ticket, hashed = new_token()
    expires_at = now + timedelta(seconds=TICKET_TTL_SECONDS)
    session.add(
        ExportTicket(
            ticket_sha256=hashed,
            user_id=owner_id,
            photo_ids=[str(photo_id) for photo_id in photo_ids],
            originals=originals,
            animations=animations,
            filename=filename,
            expires_at=expires_at,
        )
    )
    session.flush()
    return ticket, expires_at


def redeem_ticket(session: Session, ticket: str) -> ExportTicket:
    """The ticket's export, consumed: a second redeem of the same ticket fails. Raises NotFound
    (`export_ticket_not_found`) when the ticket is unknown, used or expired."""
    row = session.execute(
        delete(ExportTicket)
        .where(ExportTicket.ticket_sha256 == token_hash(ticket))
        .returning(ExportTicket)
    ).scalar_one_or_none()
    if row is None or row.expires_at <= utcnow():
        raise NotFound(
            "This download link is unknown, already used or expired; start the download again.",
            code="export_ticket_not_found",
        )
    return row
