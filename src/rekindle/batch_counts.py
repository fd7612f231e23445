"""A batch restoration's live progress, kept on its `restore_batches` row (issue 16).

Every status change of a batch attempt moves one count on its batch's row (`move_attempt`), in
the transaction that changes the attempt and after every other row it locks, so that the batch's
`batch` event reads its counts (`progress`) instead of counting its attempts on every event.
Called by `restoration.outcomes` (claim, finish, failure) and `photos.service.delete_photo`; read
by `events.batch_progress`. Functions take a Session and never commit.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, select, update
from sqlalchemy.orm import Session

from rekindle.models import AttemptStatus, RestoreBatch

BATCHES_TABLE = cast(Table, RestoreBatch.__table__)
PROGRESS_COLUMNS = tuple(
    BATCHES_TABLE.c[name]
    for name in (
        "attempts_pending",
        "attempts_processing",
        "attempts_completed",
        "attempts_failed",
        "progress_seq",
    )
)
"""The `Progress` values, in this order."""

_SESSION_KEY = "rekindle.batch_progress"
"""`Session.info` key: {batch_id: the `PROGRESS_COLUMNS` values} as this transaction's last
`move_attempt` left the batch's row."""

_COUNTERS: dict[str, str] = {
    AttemptStatus.PENDING: "attempts_pending",
    AttemptStatus.PROCESSING: "attempts_processing",
    AttemptStatus.COMPLETED: "attempts_completed",
    AttemptStatus.FAILED: "attempts_failed",
}


def move_attempt(session: Session, batch_id: uuid.UUID, old: str | None, new: str | None) -> None:
    """One attempt of batch `batch_id` went from status `old` to `new` (None: it was created, or
    deleted): one UPDATE of the batch's row, which also raises its `progress_seq` by one and
    locks the row until the commit. Call it after every other row the transaction locks (the
    batch row is always locked last: no lock cycle with it). The row as it is then is kept for
    `progress` in this session. A batch whose row is gone (its owner deleted) changes nothing.
    Raises KeyError for a status that is not an attempt status."""
    row = session.execute(_move_statement(old, new), {"batch_id": batch_id}).one_or_none()
    if row is not None:
        session.info.setdefault(_SESSION_KEY, {})[batch_id] = tuple(row)


@functools.cache
def _move_statement(old: str | None, new: str | None) -> Update:
    """The UPDATE of `move_attempt` for one (old, new) pair, built once: a statement built per
    call costs the worker more CPU than running it (issue 16, docs/benchmarks.md, tenth pass)."""
    values: dict[str, Any] = {"progress_seq": BATCHES_TABLE.c.progress_seq + 1}
    if old is not None:
        values[_COUNTERS[old]] = BATCHES_TABLE.c[_COUNTERS[old]] - 1
    if new is not None:
        values[_COUNTERS[new]] = BATCHES_TABLE.c[_COUNTERS[new]] + 1
    return (
        update(BATCHES_TABLE)
        .where(BATCHES_TABLE.c.id == bindparam("batch_id"))
        .values(values)
        .returning(*PROGRESS_COLUMNS)
    )


Progress = tuple[int, int, int, int, int]
"""(pending, processing, completed, failed, progress_seq)."""


def progress(session: Session, batch_id: uuid.UUID) -> Progress | None:
    """The batch's `Progress`: what this transaction's last `move_attempt` left on its row (no
    statement), else one primary-key read. None when the batch's row is gone."""
    kept = session.info.get(_SESSION_KEY, {}).pop(batch_id, None)
    if kept is None:
        row = session.execute(
            select(*PROGRESS_COLUMNS).where(BATCHES_TABLE.c.id == batch_id)
        ).one_or_none()
        kept = None if row is None else tuple(row)
    return cast(Progress | None, kept)
