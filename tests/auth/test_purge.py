"""The sweep drops sessions, pending sign-ups and share links that ended over a week ago, and
keeps everything else; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rekindle.auth.purge import purge_ended
from rekindle.config import Settings
from rekindle.db import session_scope, utcnow
from rekindle.models import AuthSession, PendingSignup, RestoreAttempt, ShareLink
from rekindle.users import ensure_user
from tests.support.rows import photo_row
from tests.support.services import migrated_sessions, postgres_sessions


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        with migrated_sessions(f"sqlite:///{tmp_path / 'p.sqlite3'}") as made:
            yield made
    else:
        with postgres_sessions() as made:
            yield made


def test_purge_drops_only_long_ended_rows(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    now = utcnow()
    old, recent, later = now - timedelta(days=8), now - timedelta(days=1), now + timedelta(days=1)
    settings = Settings(_env_file=None, rekindle_data_dir=tmp_path)  # type: ignore[call-arg]
    photo_id, attempt_id = uuid.uuid4(), uuid.uuid4()
    with session_scope(sessions) as session:
        ensure_user(session, "u", None, settings)
        session.add(photo_row("u", photo_id))
        session.flush()
        session.add(
            RestoreAttempt(
                id=attempt_id,
                photo_id=photo_id,
                status="completed",
                engine="classic",
                params={},
                photo_status_before="uploaded",
            )
        )
        session.flush()
        for name, expires, revoked in [
            ("expired-long-ago", old, None),
            ("revoked-long-ago", later, old),
            ("revoked-yesterday", later, recent),
            ("live", later, None),
        ]:
            session.add(
                AuthSession(
                    user_id="u", token_hash=f"s-{name}", expires_at=expires, revoked_at=revoked
                )
            )
            session.add(
                ShareLink(
                    photo_id=photo_id,
                    restore_id=attempt_id,
                    token_hash=f"l-{name}",
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
        session.add(
            PendingSignup(email="a@b.co", password_hash="x", token_hash="p-old", expires_at=old)
        )
        session.add(
            PendingSignup(email="a@b.co", password_hash="x", token_hash="p-new", expires_at=recent)
        )
    with session_scope(sessions) as session:
        assert purge_ended(session) == 5
    with sessions() as session:
        assert sorted(session.scalars(select(AuthSession.token_hash))) == [
            "s-live",
            "s-revoked-yesterday",
        ]
        assert sorted(session.scalars(select(ShareLink.token_hash))) == [
            "l-live",
            "l-revoked-yesterday",
        ]
        assert session.scalar(select(func.count()).select_from(PendingSignup)) == 1
