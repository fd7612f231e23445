"""Animation rules: what may be animated, from which image, and the HD upgrade. Functions take a
Session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.credits import ledger
from rekindle.db import utcnow
from rekindle.engines.registry import ANIMATION_ENGINES, animation_engine_available
from rekindle.errors import BadRequest, Conflict, NotFound
from rekindle.models import AnimationAttempt, AttemptStatus, PhotoStatus
from rekindle.photos.service import get_photo
from rekindle.storage import keys
from rekindle.storage.orphans import forget

UNFINISHED = (AttemptStatus.PENDING, AttemptStatus.PROCESSING)


def resolve_animation_engine(settings: Settings, requested: str | None) -> str:
    """`requested` if it is a configured animation engine, else the default. Raises BadRequest."""
    name = requested or settings.rekindle_animation_engine
    if name not in ANIMATION_ENGINES or not animation_engine_available(name, settings):
        raise BadRequest(f"Animation engine {name!r} is not available.", code="unknown_engine")
    return name


def request_animation(
    session: Session, settings: Settings, owner_id: str, photo_id: uuid.UUID, engine: str | None
) -> AnimationAttempt:
    """Accept an animation of the photo's selected restoration (the original when there is none).

    Raises NotFound, Conflict (`restore_in_progress` while a restoration of the photo runs),
    BadRequest (`unknown_engine`). The caller charges, commits, then dispatches.
    """
    name = resolve_animation_engine(settings, engine)
    photo = get_photo(session, owner_id, photo_id)
    if photo.status == PhotoStatus.PROCESSING:
        raise Conflict(
            "This photo is being restored; animate it once the restoration has finished.",
            code="restore_in_progress",
        )
    source_restore_id, source_key = None, photo.original_key
    selected = next(
        (a for a in photo.restore_attempts if a.id == photo.selected_restore_id and a.s3_key), None
    )
    if selected is not None and selected.s3_key:
        source_restore_id, source_key = selected.id, selected.s3_key
    attempt = AnimationAttempt(
        id=uuid.uuid4(),
        photo_id=photo.id,
        source_restore_id=source_restore_id,
        source_key=source_key,
        status=AttemptStatus.PENDING,
        engine=name,
        params={
            "duration_seconds": settings.animation_duration_seconds,
            "credits_charged": settings.price_animation,
        },
    )
    if settings.price_animation:
        ledger.charge(
            session,
            owner_id,
            settings.price_animation,
            reference=charge_reference(attempt.id, hd=False),
            reason="animation",
        )
    session.add(attempt)
    session.flush()
    return attempt


def charge_reference(attempt_id: uuid.UUID, *, hd: bool) -> str:
    """The ledger reference of an animation's charge: the preview's, or its HD result's."""
    return f"charge:hd:{attempt_id}" if hd else ledger.charge_reference(attempt_id)


def get_animation(
    session: Session, owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID
) -> AnimationAttempt:
    """One animation attempt of the owner's photo. Raises NotFound."""
    photo = get_photo(session, owner_id, photo_id)
    for attempt in photo.animation_attempts:
        if attempt.id == attempt_id:
            return attempt
    raise NotFound("No such animation attempt.", code="animation_not_found")


def request_hd(
    session: Session,
    settings: Settings,
    owner_id: str,
    photo_id: uuid.UUID,
    attempt_id: uuid.UUID,
) -> AnimationAttempt:
    """Accept (and charge) the HD result of a completed animation: one conditional UPDATE, so two
    requests cannot both start it. Raises NotFound, Conflict (`animation_not_completed`,
    `hd_exists`), PaymentRequired. A failed HD result may be asked for again (charged again, since
    the failure refunded it)."""
    attempt = get_animation(session, owner_id, photo_id, attempt_id)
    if attempt.status != AttemptStatus.COMPLETED:
        raise Conflict(
            "Only a finished animation has an HD result.", code="animation_not_completed"
        )
    switched = session.execute(
        update(AnimationAttempt)
        .where(
            AnimationAttempt.id == attempt_id,
            (AnimationAttempt.hd_status.is_(None))
            | (AnimationAttempt.hd_status == AttemptStatus.FAILED),
        )
        .values(
            hd_status=AttemptStatus.PENDING,
            hd_requested_at=utcnow(),
            hd_error_code=None,
            hd_error_message=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not switched:
        raise Conflict("The HD result is already made or being made.", code="hd_exists")
    session.refresh(attempt)
    # A retry after a refunded failure is a new charge, so each HD request gets its own reference.
    requests = int(attempt.params.get("hd_requests", 0)) + 1
    reference = f"{charge_reference(attempt_id, hd=True)}:{requests}"
    if settings.price_hd:
        ledger.charge(
            session, owner_id, settings.price_hd, reference=reference, reason="HD animation"
        )
    attempt.params = {**attempt.params, "hd_requests": requests, "hd_charge_reference": reference}
    # The HD key is the same on every try: a failed try's leftover, recorded as orphaned, must not
    # be swept away once this try has stored its video there.
    forget(session, [keys.animation_keys(owner_id, photo_id, attempt_id)[1]])
    session.flush()
    return attempt
