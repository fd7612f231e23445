"""The worker side of animations: the preview and the HD result.

As for restorations: a short transaction takes the attempt (conditional update), the engine runs
with no transaction open, a short transaction records the outcome (again conditional, so a late
or duplicate run changes nothing), and objects stored for an outcome that cannot be recorded are
removed.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rekindle import metrics
from rekindle.animation.service import charge_reference
from rekindle.credits import ledger
from rekindle.db import retry_while_unreachable, session_scope, utcnow
from rekindle.engines.base import AnimateRequest, AnimationResult, EngineError
from rekindle.engines.registry import UnknownEngine, animation_engine
from rekindle.errors import ServiceUnavailable
from rekindle.events import publish_animation_attempt
from rekindle.models import AnimationAttempt, AttemptStatus, Photo
from rekindle.queue import ANIMATE_TASK, HD_TASK, send
from rekindle.runtime import Runtime
from rekindle.storage import StorageError, keys
from rekindle.storage.orphans import discard_or_remember

log = logging.getLogger(__name__)

UNFINISHED = (AttemptStatus.PENDING, AttemptStatus.PROCESSING)


def dispatch(runtime: Runtime, attempt_id: uuid.UUID, *, hd: bool) -> None:
    """Queue the preview (or HD) task after the commit; if the broker is down, fail the attempt
    (refunding its charge) and raise ServiceUnavailable (`queue_unavailable`)."""
    publish_animation_attempt(runtime, attempt_id, hd=hd)  # pending; before the task, to keep order
    try:
        send(runtime.celery, HD_TASK if hd else ANIMATE_TASK, str(attempt_id))
    except Exception as exc:
        log.exception("could not queue animation %s", attempt_id)
        with session_scope(runtime.sessions) as session:
            _mark_failed(
                session, attempt_id, hd, "queue_unavailable", "Service unavailable", str(exc)
            )
        publish_animation_attempt(runtime, attempt_id, hd=hd)
        raise ServiceUnavailable(
            "The animation queue is unavailable; please retry.", code="queue_unavailable"
        ) from exc


def _columns(hd: bool) -> dict[str, Any]:
    """The status/timestamp/error columns of the preview or the HD result."""
    a = AnimationAttempt
    if hd:
        return {
            "status": a.hd_status,
            "started": "hd_started_at",
            "finished": "hd_finished_at",
            "code": "hd_error_code",
            "message": "hd_error_message",
        }
    return {
        "status": a.status,
        "started": "started_at",
        "finished": "finished_at",
        "code": "error_code",
        "message": "error_message",
    }


def _transition(
    session: Session,
    attempt_id: uuid.UUID,
    hd: bool,
    allowed: tuple[str, ...],
    values: dict[str, Any],
) -> bool:
    column = _columns(hd)["status"]
    changed = session.execute(
        update(AnimationAttempt)
        .where(AnimationAttempt.id == attempt_id, column.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def _mark_failed(
    session: Session, attempt_id: uuid.UUID, hd: bool, code: str, message: str, detail: str | None
) -> bool:
    cols = _columns(hd)
    values: dict[str, Any] = {
        "hd_status" if hd else "status": AttemptStatus.FAILED,
        cols["code"]: code,
        cols["message"]: message[:255],
        cols["finished"]: utcnow(),
    }
    if not hd:
        values["error_detail"] = detail[:4000] if detail else None
    failed = _transition(session, attempt_id, hd, UNFINISHED, values)
    if failed:
        refund_animation_charge(session, attempt_id, hd=hd)
    return failed


def refund_animation_charge(session: Session, attempt_id: uuid.UUID, *, hd: bool) -> None:
    """Return the credits charged for the preview or HD result, exactly once."""
    if hd:
        attempt = session.get(AnimationAttempt, attempt_id)
        reference = attempt.params.get("hd_charge_reference") if attempt else None
        if reference:
            ledger.refund(session, reference, reason="HD result failed")
    else:
        ledger.refund(session, charge_reference(attempt_id, hd=False), reason="animation failed")


def run_animation(runtime: Runtime, attempt_id: uuid.UUID, *, hd: bool = False) -> str:
    """Render the preview (or, with `hd`, the HD result) of an animation attempt to its end.
    Returns "completed", "failed", "skipped" (not pending: a duplicate delivery, or swept), or
    "deferred" when the engine's provider budget (`ENGINE_BUDGETS["animation:{engine}"]`) is
    spent: the attempt stays pending and its task is sent again with a countdown."""
    a = AnimationAttempt
    status, requested = (a.hd_status, a.hd_requested_at) if hd else (a.status, a.created_at)
    with session_scope(runtime.sessions) as session:
        found = session.execute(
            select(a.engine, requested).where(a.id == attempt_id, status == AttemptStatus.PENDING)
        ).one_or_none()
    if found is None:
        return "skipped"
    engine, requested_at = found
    budget_key = f"animation:{engine}"
    admission = runtime.budgets.admit(budget_key)
    if not admission.allowed:
        waited = (utcnow() - requested_at).total_seconds() if requested_at else 0.0
        if waited > runtime.settings.budget_max_wait_seconds:
            with session_scope(runtime.sessions) as session:
                _mark_failed(
                    session,
                    attempt_id,
                    hd,
                    "provider_busy",
                    "Service busy, please try again",
                    f"{budget_key} budget: still waiting after {round(waited)} s",
                )
            metrics.observe_attempt("animation", engine, "failed")
            return "failed"
        countdown = admission.wait_seconds * (1 + random.random() * 0.1)
        runtime.budgets.mark_waiting(attempt_id, countdown)
        try:
            send(
                runtime.celery,
                HD_TASK if hd else ANIMATE_TASK,
                str(attempt_id),
                countdown=countdown,
            )
        except Exception:
            log.exception("could not re-queue animation %s waiting on its budget", attempt_id)
            return "failed"
        metrics.BUDGET_DEFERRALS.labels(budget_key, admission.reason).inc()
        log.info(
            "animation waits for the %s budget",
            budget_key,
            extra={"engine": engine, "hd": hd, "wait_seconds": round(countdown, 2)},
        )
        return "deferred"
    runtime.budgets.clear_waiting(attempt_id)
    log.info("animation started", extra={"engine": engine, "hd": hd})
    started = time.monotonic()
    try:
        outcome = _run_admitted(runtime, attempt_id, hd)
    finally:
        admission.release()
    metrics.observe_attempt("animation", engine, outcome)
    log.info(
        "animation %s",
        outcome,
        extra={
            "engine": engine,
            "hd": hd,
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )
    return outcome


def _run_admitted(runtime: Runtime, attempt_id: uuid.UUID, hd: bool) -> str:
    status_field = "hd_status" if hd else "status"
    with session_scope(runtime.sessions) as session:
        taken = _transition(
            session,
            attempt_id,
            hd,
            (AttemptStatus.PENDING,),
            {status_field: AttemptStatus.PROCESSING, _columns(hd)["started"]: utcnow()},
        )
        if not taken:
            return "skipped"
        attempt = session.get(AnimationAttempt, attempt_id)
        assert attempt is not None
        photo = attempt.photo
        owner_id, photo_id, source_key, engine_name = (
            photo.owner_id,
            photo.id,
            attempt.source_key,
            attempt.engine,
        )
        duration = float(attempt.params.get("duration_seconds", 5.0))
    publish_animation_attempt(runtime, attempt_id, hd=hd)
    started = time.monotonic()
    stored: list[str] = []
    try:
        engine = animation_engine(engine_name, runtime.settings)
        image = runtime.store.get(source_key)
        with metrics.engine_timer("animation", engine_name):
            result = engine.animate(AnimateRequest(image=image, hd=hd, duration_seconds=duration))
        preview_key, result_key = keys.animation_keys(owner_id, photo_id, attempt_id)
        thumb_key = keys.thumbnail_key(owner_id, photo_id, attempt_id)
        video_key = result_key if hd else preview_key
        runtime.store.put(video_key, result.video, "video/mp4")
        stored.append(video_key)
        if not hd:
            runtime.store.put(thumb_key, result.thumbnail, "image/jpeg")
            stored.append(thumb_key)
    except EngineError as exc:
        return _fail(runtime, attempt_id, hd, stored, exc.code, exc.message, exc.detail)
    except StorageError as exc:
        return _fail(
            runtime,
            attempt_id,
            hd,
            stored,
            "storage_unavailable",
            "Storage unavailable, please retry",
            str(exc),
        )
    except UnknownEngine as exc:
        return _fail(
            runtime,
            attempt_id,
            hd,
            stored,
            "engine_unavailable",
            "Service configuration error",
            f"engine {exc} is not configured",
        )
    except Exception as exc:
        log.exception("animation %s failed unexpectedly", attempt_id)
        return _fail(
            runtime,
            attempt_id,
            hd,
            stored,
            "internal_error",
            "Animation failed unexpectedly, please retry",
            repr(exc),
        )
    seconds = round(time.monotonic() - started, 3)
    # A finished result outlives a database blip: the write is tried again for a while (still
    # conditional, so an attempt the sweep failed meanwhile stays failed).
    recorded = retry_while_unreachable(
        runtime.sessions,
        lambda session: _record_success(
            session, attempt_id, hd, result, video_key, thumb_key, seconds
        ),
        within_seconds=runtime.settings.result_write_retry_seconds,
        what=f"animation {attempt_id} (hd={hd})",
    )
    if not recorded:
        discard_or_remember(
            runtime.store,
            runtime.sessions,
            stored,
            reason=f"animation {attempt_id} (hd={hd}) ended before its result was recorded",
        )
        return "skipped"
    publish_animation_attempt(runtime, attempt_id, hd=hd)
    return "completed"


def _record_success(
    session: Session,
    attempt_id: uuid.UUID,
    hd: bool,
    result: AnimationResult,
    video_key: str,
    thumb_key: str,
    seconds: float,
) -> bool:
    attempt = session.get(AnimationAttempt, attempt_id)
    if attempt is None:
        return False
    video = {
        "width": result.width,
        "height": result.height,
        "fps": result.fps,
        "duration_seconds": result.duration_seconds,
        "render_seconds": seconds,
        "bytes": len(result.video),
    }
    if hd:
        values: dict[str, Any] = {
            "hd_status": AttemptStatus.COMPLETED,
            "is_hd": True,
            "result_key": video_key,
            "hd_finished_at": utcnow(),
            "params": {**attempt.params, "hd": video},
        }
    else:
        values = {
            "status": AttemptStatus.COMPLETED,
            "model": result.model,
            "preview_key": video_key,
            "thumbnail_key": thumb_key,
            "finished_at": utcnow(),
            "params": {**attempt.params, **result.params, "preview": video},
        }
    if _transition(session, attempt_id, hd, (AttemptStatus.PROCESSING,), values):
        # The video (and the preview's thumbnail) count against the owner's storage quota.
        added = len(result.video) + (0 if hd else len(result.thumbnail))
        session.execute(
            update(Photo)
            .where(Photo.id == attempt.photo_id)
            .values(stored_bytes=Photo.stored_bytes + added)
            .execution_options(synchronize_session=False)
        )
        return True
    # A retry after a commit whose answer was lost with the connection: already recorded.
    if hd:
        return attempt.hd_status == AttemptStatus.COMPLETED and attempt.result_key == video_key
    return attempt.status == AttemptStatus.COMPLETED and attempt.preview_key == video_key


def _fail(
    runtime: Runtime,
    attempt_id: uuid.UUID,
    hd: bool,
    stored: list[str],
    code: str,
    message: str,
    detail: str | None,
) -> str:
    discard_or_remember(
        runtime.store,
        runtime.sessions,
        stored,
        reason=f"animation {attempt_id} (hd={hd}) failed: {code}",
    )
    with session_scope(runtime.sessions) as session:
        _mark_failed(session, attempt_id, hd, code, message, detail)
    publish_animation_attempt(runtime, attempt_id, hd=hd)
    log.warning("animation %s (hd=%s) failed: %s (%s)", attempt_id, hd, code, detail)
    return "failed"


def _attempt_objects(
    owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID, hd: bool
) -> list[str]:
    """What a preview (video and thumbnail) or an HD result (video) run may have stored."""
    preview_key, result_key = keys.animation_keys(owner_id, photo_id, attempt_id)
    if hd:
        return [result_key]
    return [preview_key, keys.thumbnail_key(owner_id, photo_id, attempt_id)]


def sweep_stuck_animations(runtime: Runtime) -> int:
    """Fail previews and HD results left unfinished past the task time limit (their worker died),
    refunding their charges and removing what their worker may have stored (recorded for the next
    sweep if storage refuses). Returns how many were failed."""
    cutoff = utcnow() - timedelta(seconds=runtime.settings.task_time_limit_seconds)
    pending_cutoff = utcnow() - timedelta(seconds=runtime.settings.pending_time_limit_seconds)
    a = AnimationAttempt
    found: list[tuple[uuid.UUID, bool]] = []
    with session_scope(runtime.sessions) as session:
        for hd, status, started, created in (
            (False, a.status, a.started_at, a.created_at),
            (True, a.hd_status, a.hd_started_at, a.hd_requested_at),
        ):
            rows = session.scalars(
                select(a.id).where(
                    or_(
                        (status == AttemptStatus.PROCESSING) & (started < cutoff),
                        (status == AttemptStatus.PENDING) & (created < pending_cutoff),
                    )
                )
            )
            found += [(row, hd) for row in rows]
    waiting = runtime.budgets.waiting([attempt_id for attempt_id, _ in found])
    failed = 0
    for attempt_id, hd in found:
        if str(attempt_id) in waiting:  # pending on a provider budget, not lost
            continue
        with session_scope(runtime.sessions) as session:
            attempt = session.get(AnimationAttempt, attempt_id)
            owner = (attempt.photo.owner_id, attempt.photo_id) if attempt is not None else None
            swept = _mark_failed(
                session,
                attempt_id,
                hd,
                "timed_out",
                "Service timeout, please retry",
                "no result within the task time limit; the worker may have died",
            )
        if swept and owner is not None:
            failed += 1
            discard_or_remember(
                runtime.store,
                runtime.sessions,
                _attempt_objects(*owner, attempt_id, hd),
                reason=f"animation {attempt_id} (hd={hd}) swept",
            )
            publish_animation_attempt(runtime, attempt_id, hd=hd)
    return failed
