"""The worker side of a restoration (DESIGN.md, "Work in the worker").

No database transaction is open while the engine runs: a short one claims the pending attempt
(its engine's budget is asked while its row is locked) and marks it processing; then the original
is read, preprocessed, restored and stored with a thumbnail; then a short one records the outcome.
Every outcome is a conditional update, so running twice is harmless. Two transactions per attempt
(issue 16): the live events are gathered in the transactions that change the attempt
(`events.restore_change`) and published after their commits, with no read-back.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from rekindle import metrics
from rekindle.db import retry_while_unreachable, session_scope, utcnow
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.budget import Admission
from rekindle.engines.registry import UnknownEngine, restoration_engine
from rekindle.errors import ServiceUnavailable
from rekindle.events import (
    AttemptChange,
    publish_change,
    publish_restore_attempt,
    restore_change,
)
from rekindle.imaging.decode import decode_slot
from rekindle.imaging.mask import fit_mask
from rekindle.imaging.preprocess import preprocess
from rekindle.imaging.thumbnails import make_thumbnail
from rekindle.models import AttemptStatus, PhotoStatus, RestoreAttempt
from rekindle.photos.schemas import RestoreOptions
from rekindle.photos.service import request_restore, validate_restore
from rekindle.queue import RESTORE_TASK, send
from rekindle.restoration.outcomes import (
    ATTEMPTS,
    ATTEMPTS_TABLE,
    PHOTOS,
    PHOTOS_TABLE,
    ClaimedAttempt,
    mark_completed,
    mark_failed,
    mark_processing,
    record_remote_job,
)
from rekindle.runtime import Runtime
from rekindle.storage import StorageError, keys
from rekindle.storage.orphans import discard_or_remember, remove_orphaned_objects

log = logging.getLogger(__name__)

TIMED_OUT = ("timed_out", "Service timeout, please retry")
BUDGET_EXHAUSTED = ("provider_busy", "Service busy, please try again")
STORAGE_DOWN = ("storage_unavailable", "Storage unavailable, please retry")
INTERNAL = ("internal_error", "Restoration failed unexpectedly, please retry")

# CPU-bound engines get a bound of their own so they cannot starve the thread pool's remote calls.
_cpu_slots: dict[int, threading.BoundedSemaphore] = {}


def _cpu_slot(limit: int) -> threading.BoundedSemaphore:
    return _cpu_slots.setdefault(limit, threading.BoundedSemaphore(limit))


@dataclass(frozen=True)
class _Job:
    attempt_id: uuid.UUID
    photo_id: uuid.UUID
    owner_id: str
    original_key: str
    engine: str
    params: dict[str, object]
    """The attempt's params as the claim read them; the provider's job reference is added when
    the worker records it (`_remember_remote_job`), so they stay what the row holds."""
    mask_key: str | None = None
    batch_id: uuid.UUID | None = None

    @property
    def request(self) -> dict[str, object]:
        """The options the restoration was requested with."""
        request = self.params.get("request")
        return request if isinstance(request, dict) else {}


def accept_restore(
    runtime: Runtime,
    session: Session,
    owner_id: str,
    photo_id: uuid.UUID,
    options: RestoreOptions,
) -> RestoreAttempt:
    """Accept a restoration (`photos.service.request_restore`), commit, then queue its task: the
    task must find its attempt, so it is sent only after the commit. Raises what `request_restore`
    and `dispatch_restore` raise.

    A mask is stored (at the attempt's `mask_key`) after the attempt is accepted and before the
    commit: a refused request stores nothing, and a mask whose row is not committed is removed
    (or recorded for the sweep). Storage down: ServiceUnavailable (`storage_unavailable`)."""
    validated = validate_restore(runtime.settings, options)
    attempt = request_restore(
        session, runtime.settings, owner_id, photo_id, options, validated=validated
    )
    mask = validated[1]
    if mask is not None and attempt.mask_key is not None:
        mask_key = attempt.mask_key
        try:
            runtime.store.put(mask_key, mask.png, "image/png")
        except StorageError as exc:
            session.rollback()
            discard_or_remember(
                runtime.store, runtime.sessions, [mask_key], reason="restore refused: storage"
            )
            raise ServiceUnavailable(
                "Storage is unavailable; the restoration was not started. Please retry.",
                code="storage_unavailable",
            ) from exc
        try:
            session.commit()
        except Exception:
            discard_or_remember(
                runtime.store, runtime.sessions, [mask_key], reason="restore not committed"
            )
            raise
    else:
        session.commit()
    dispatch_restore(runtime, attempt.id, pending_change(owner_id, attempt))
    return attempt


def pending_change(owner_id: str, attempt: RestoreAttempt) -> AttemptChange:
    """The event of an attempt just accepted (pending; its photo processing), with no batch
    progress (a batch publishes its own once, after dispatching all its attempts)."""
    return AttemptChange(
        owner_id, attempt.photo_id, attempt.id, AttemptStatus.PENDING, PhotoStatus.PROCESSING
    )


def dispatch_restore(
    runtime: Runtime, attempt_id: uuid.UUID, change: AttemptChange | None = None
) -> None:
    """Queue the attempt's task (after the commit that created it). If the broker is unreachable,
    the attempt is failed at once and ServiceUnavailable (`queue_unavailable`) is raised. `change`
    is its pending event (`pending_change`); None reads it back after the commit."""
    # pending; before the task, so events keep order
    if change is not None:
        publish_change(runtime, change)
    else:
        publish_restore_attempt(runtime, attempt_id)
    try:
        send(runtime.celery, RESTORE_TASK, str(attempt_id))
    except Exception as exc:
        log.exception("could not queue attempt %s", attempt_id)
        with session_scope(runtime.sessions) as session:
            mark_failed(
                session,
                attempt_id,
                code="queue_unavailable",
                message="Service unavailable",
                detail=str(exc),
            )
        publish_restore_attempt(runtime, attempt_id)
        raise ServiceUnavailable(
            "The restoration queue is unavailable; please retry.", code="queue_unavailable"
        ) from exc


def run_restore_attempt(runtime: Runtime, attempt_id: uuid.UUID) -> str:
    """Run one attempt to its end. Returns its final status ("completed", "failed"), "skipped"
    when the attempt was not pending (a duplicate delivery, or failed by the sweep), or
    "deferred" when its engine's provider budget is spent (it stays pending and its task is sent
    again with a countdown; see `engines.budget`)."""
    claimed = _claim(runtime, attempt_id)
    if isinstance(claimed, str):
        return claimed
    if isinstance(claimed, _Deferral):
        return _defer(runtime, attempt_id, claimed.engine, claimed.created_at, claimed.admission)
    job, admission, change = claimed
    publish_change(runtime, change)
    log.info("restoration started", extra={"engine": job.engine})
    started = time.monotonic()
    try:
        outcome = _run_admitted(runtime, job)
    finally:
        admission.release()
    metrics.observe_attempt("restore", job.engine, outcome)
    log.info(
        "restoration %s",
        outcome,
        extra={"engine": job.engine, "duration_ms": round((time.monotonic() - started) * 1000)},
    )
    return outcome


_CLAIM = (
    select(
        ATTEMPTS.engine,
        ATTEMPTS.created_at,
        ATTEMPTS.params,
        ATTEMPTS.mask_key,
        ATTEMPTS.batch_id,
        PHOTOS.id,
        PHOTOS.owner_id,
        PHOTOS.original_key,
        PHOTOS.status,
    )
    .join(PHOTOS_TABLE, PHOTOS.id == ATTEMPTS.photo_id)
    .where(ATTEMPTS.id == bindparam("attempt_id"), ATTEMPTS.status == AttemptStatus.PENDING)
    .with_for_update(of=ATTEMPTS_TABLE)
)
"""The claim's read of a pending attempt and its photo, built once (see `outcomes`)."""


@dataclass(frozen=True)
class _Deferral:
    engine: str
    created_at: datetime
    admission: Admission


def _claim(
    runtime: Runtime, attempt_id: uuid.UUID
) -> str | _Deferral | tuple[_Job, Admission, AttemptChange | None]:
    """One transaction: read the pending attempt with its photo (its row locked on PostgreSQL;
    SQLite's writers are serialized), ask its engine's budget, and when admitted mark it
    processing and gather its live event. Returns "skipped" (not pending), a `_Deferral` (the
    budget is spent: the attempt stays pending), or the job with its admission (the caller
    releases it) and its event (published after the commit)."""
    admission: Admission | None = None
    try:
        with session_scope(runtime.sessions) as session:
            row = session.execute(_CLAIM, {"attempt_id": attempt_id}).one_or_none()
            if row is None:
                return "skipped"
            (
                engine,
                created_at,
                params,
                mask_key,
                batch_id,
                photo_id,
                owner,
                original,
                photo_status,
            ) = row
            admission = runtime.budgets.admit(engine)
            if not admission.allowed:
                return _Deferral(engine, created_at, admission)
            if not mark_processing(session, attempt_id):
                admission.release()
                admission = None
                return "skipped"
            change = restore_change(
                session,
                attempt_id,
                known=(owner, photo_id, AttemptStatus.PROCESSING, photo_status, batch_id),
            )
        if runtime.budgets.budget(engine) is not None:
            runtime.budgets.clear_waiting(attempt_id)  # only an attempt with a budget waited
    except BaseException:
        if admission is not None and admission.allowed:
            admission.release()
        raise
    job = _Job(
        attempt_id, photo_id, owner, original, engine, dict(params or {}), mask_key, batch_id
    )
    return job, admission, change


def _defer(
    runtime: Runtime, attempt_id: uuid.UUID, engine: str, created_at: datetime, admission: Admission
) -> str:
    """Leave the attempt pending and send its task again after the budget's wait (plus up to 10%
    jitter, so waiting attempts do not all ask at the same instant). An attempt that has waited
    `BUDGET_MAX_WAIT_SECONDS` since it was accepted is failed (`provider_busy`) instead."""
    waited = (utcnow() - created_at).total_seconds()
    if waited > runtime.settings.budget_max_wait_seconds:
        with session_scope(runtime.sessions) as session:
            mark_failed(
                session,
                attempt_id,
                code=BUDGET_EXHAUSTED[0],
                message=BUDGET_EXHAUSTED[1],
                detail=f"{engine} budget: still waiting after {round(waited)} s",
            )
        publish_restore_attempt(runtime, attempt_id)
        metrics.observe_attempt("restore", engine, "failed")
        return "failed"
    countdown = admission.wait_seconds * (1 + random.random() * 0.1)
    runtime.budgets.mark_waiting(attempt_id, countdown)
    try:
        send(runtime.celery, RESTORE_TASK, str(attempt_id), countdown=countdown)
    except Exception:
        # The attempt stays pending; the sweep fails it once its waiting marker has lapsed.
        log.exception("could not re-queue attempt %s waiting on the %s budget", attempt_id, engine)
        return "failed"
    metrics.BUDGET_DEFERRALS.labels(engine, admission.reason).inc()
    log.info(
        "restoration waits for the %s budget",
        engine,
        extra={"engine": engine, "reason": admission.reason, "wait_seconds": round(countdown, 2)},
    )
    return "deferred"


def _run_admitted(runtime: Runtime, job: _Job) -> str:
    attempt_id = job.attempt_id
    started = time.monotonic()
    stored: list[str] = []
    try:
        outcome = _restore_and_store(runtime, job, stored, started)
    except EngineError as exc:
        return _fail(
            runtime, job, stored, exc.code, exc.message, exc.detail, started, extra=exc.params
        )
    except StorageError as exc:
        return _fail(runtime, job, stored, *STORAGE_DOWN, str(exc), started)
    except UnknownEngine as exc:
        return _fail(
            runtime,
            job,
            stored,
            "engine_unavailable",
            "Service configuration error",
            f"engine {exc} is not configured on this worker",
            started,
        )
    except Exception as exc:
        log.exception("attempt %s failed unexpectedly", attempt_id)
        return _fail(runtime, job, stored, *INTERNAL, repr(exc), started)
    model, params, result_key, thumb_key = outcome

    def record(session: Session) -> tuple[bool, AttemptChange | None]:
        if mark_completed(
            session,
            attempt_id,
            model=model,
            params=params,
            result_key=result_key,
            thumbnail_key=thumb_key,
            claimed=ClaimedAttempt(job.photo_id, job.batch_id, job.params),
        ):
            known = (
                job.owner_id,
                job.photo_id,
                AttemptStatus.COMPLETED,
                PhotoStatus.READY,
                job.batch_id,
            )
            return True, restore_change(session, attempt_id, known=known)
        # A retry after a commit whose answer was lost with the connection: already recorded.
        done = session.scalar(
            select(RestoreAttempt.s3_key).where(
                RestoreAttempt.id == attempt_id, RestoreAttempt.status == AttemptStatus.COMPLETED
            )
        )
        if done != result_key:
            return False, None
        return True, restore_change(session, attempt_id)

    # A finished result outlives a database blip: the write is tried again for a while (still
    # conditional, so an attempt the sweep failed meanwhile stays failed).
    recorded, change = retry_while_unreachable(
        runtime.sessions,
        record,
        within_seconds=runtime.settings.result_write_retry_seconds,
        what=f"restore attempt {attempt_id}",
    )
    if not recorded:
        # The attempt ended meanwhile (swept, or its photo deleted): its objects must not linger.
        discard_or_remember(
            runtime.store,
            runtime.sessions,
            stored,
            reason=f"restore attempt {attempt_id} ended before its result was recorded",
        )
        return "skipped"
    publish_change(runtime, change)
    return "completed"


def _restore_and_store(
    runtime: Runtime, job: _Job, stored: list[str], started: float
) -> tuple[str, dict[str, object], str, str]:
    settings, store = runtime.settings, runtime.store
    engine = restoration_engine(job.engine, settings)
    original = store.get(job.original_key)
    with contextlib.ExitStack() as cpu:
        if job.engine == "classic":
            # Preprocessing is CPU work too: it runs inside the classic engine's CPU slot, so
            # CLASSIC_MAX_PARALLEL bounds the whole restoration, not only the engine call.
            cpu.enter_context(_cpu_slot(settings.classic_max_parallel))
        with decode_slot(settings.decode_max_parallel):
            prepared = preprocess(
                original,
                max_side=settings.max_side_pixels,
                max_decode_bytes=settings.max_decode_bytes,
            )
        del original
        image_url = None
        input_key = None
        if getattr(engine, "wants_image_url", False) and store.reachable_by_providers:
            input_key = keys.provider_input_key(job.owner_id, job.photo_id, job.attempt_id)
            store.put(input_key, prepared.image_bytes, "image/jpeg")
            stored.append(input_key)
            image_url = store.provider_url(input_key)
        mask = None
        if job.mask_key is not None:
            # Options are checked when a request is accepted; an engine reconfigured since then
            # fails the attempt (refunded) rather than silently ignore the user's mask.
            if "mask" not in engine.supported_options():
                raise EngineError(
                    "option_unsupported",
                    "Service configuration error",
                    f"engine {job.engine} no longer takes a mask",
                )
            mask = fit_mask(store.get(job.mask_key), prepared.submitted_dimensions)
        request = RestoreRequest(
            image=prepared.image_bytes,
            image_url=image_url,
            denoise=float(job.request.get("denoise", 0.5)),  # type: ignore[arg-type]
            colorize=bool(job.request.get("colorize", False)),
            prompt=job.request.get("prompt"),  # type: ignore[arg-type]
            seed=job.request.get("seed"),  # type: ignore[arg-type]
            mask=mask,
            on_submitted=lambda ref: _remember_remote_job(runtime, job, ref),
        )
        engine_started = time.monotonic()
        with metrics.engine_timer("restore", job.engine):
            result = engine.restore(request)
    engine_seconds = time.monotonic() - engine_started
    jpeg = _as_jpeg(result.data)
    with decode_slot(settings.decode_max_parallel):
        thumbnail = make_thumbnail(
            jpeg, size=settings.thumbnail_size, max_decode_bytes=settings.max_decode_bytes
        )
    result_key = keys.restored_key(job.owner_id, job.photo_id, job.attempt_id)
    thumb_key = keys.thumbnail_key(job.owner_id, job.photo_id, job.attempt_id)
    store.put(result_key, jpeg, "image/jpeg")
    stored.append(result_key)
    store.put(thumb_key, thumbnail, "image/jpeg")
    stored.append(thumb_key)
    if input_key is not None:  # the provider has fetched its input; it is not a result
        stored.remove(input_key)
        discard_or_remember(
            store,
            runtime.sessions,
            [input_key],
            reason=f"provider input of restore attempt {job.attempt_id}",
        )
    params: dict[str, object] = {**result.params, "preprocessed": prepared.record()}
    params["stored_bytes"] = len(jpeg) + len(thumbnail)  # counted against the owner's quota
    engine_timings = result.params.get("timings")
    params["timings"] = {
        **(engine_timings if isinstance(engine_timings, dict) else {}),
        "engine_seconds": round(engine_seconds, 3),
        "total_seconds": round(time.monotonic() - started, 3),
    }
    return result.model, params, result_key, thumb_key


def _remember_remote_job(runtime: Runtime, job: _Job, ref: dict[str, object]) -> None:
    """Record the provider's job on the attempt (for the sweep) and in the job's params (kept
    with the result). A failure here must not fail the restoration: the job runs on, only the
    sweep's cancel would be lost."""
    job.params["remote"] = dict(ref)
    try:
        with session_scope(runtime.sessions) as session:
            record_remote_job(session, job.attempt_id, ref)
    except Exception:
        log.warning(
            "attempt %s: could not record remote job %s", job.attempt_id, ref, exc_info=True
        )


def _cancel_remote_job(runtime: Runtime, engine_name: str, ref: object) -> bool:
    """Best effort: cancel a swept attempt's job on its provider (ComfyUI interrupt or queue
    delete, RunPod /cancel): its worker died, so nobody will collect the result. Never raises."""
    if not isinstance(ref, dict):
        return False
    try:
        engine = restoration_engine(engine_name, runtime.settings)
        cancel = getattr(engine, "cancel_remote", None)
        return bool(cancel(ref)) if cancel is not None else False
    except Exception:
        log.warning("could not cancel %s job %s", engine_name, ref, exc_info=True)
        return False


def _as_jpeg(data: bytes) -> bytes:
    """The engine's image as JPEG (results are stored as .jpg). Raises EngineError if not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.verify()
                return data
            image.load()
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=95)
            return out.getvalue()
    except Exception as exc:
        raise EngineError(
            "provider_bad_result",
            "Image could not be processed",
            f"engine result is not an image: {exc}",
        ) from exc


def _fail(
    runtime: Runtime,
    job: _Job,
    stored: list[str],
    code: str,
    message: str,
    detail: str | None,
    started: float,
    extra: dict[str, object] | None = None,
) -> str:
    # Storage may be down (often why it failed): what cannot be removed now, the sweep removes later.
    discard_or_remember(
        runtime.store,
        runtime.sessions,
        stored,
        reason=f"restore attempt {job.attempt_id} failed: {code}",
    )
    params: dict[str, object] = {
        **(extra or {}),  # what support needs: prompt_id, trace_id, possibly_billed
        "timings": {"total_seconds": round(time.monotonic() - started, 3)},
    }
    with session_scope(runtime.sessions) as session:
        change = (
            restore_change(session, job.attempt_id)
            if mark_failed(
                session,
                job.attempt_id,
                code=code,
                message=message,
                detail=detail,
                params=params,
            )
            else None
        )
    publish_change(runtime, change)
    log.warning("attempt %s failed: %s (%s)", job.attempt_id, code, detail)
    return "failed"


def _discard_attempt_objects(
    runtime: Runtime, attempt_id: uuid.UUID, owner_id: str, photo_id: uuid.UUID
) -> None:
    """Remove whatever a swept attempt may have stored before its worker died (result, thumbnail,
    provider input: their keys are known from the ids), or record them for a later sweep."""
    discard_or_remember(
        runtime.store,
        runtime.sessions,
        keys.restore_attempt_keys(owner_id, photo_id, attempt_id),
        reason=f"restore attempt {attempt_id} swept",
    )


def sweep_stuck_attempts(runtime: Runtime) -> int:
    """Fail attempts whose worker died: processing longer than the task time limit, or pending
    longer than the pending limit. Their photos return to their earlier status. Then remove the
    recorded orphaned objects (`storage.orphans.remove_orphaned_objects`). Returns how many
    attempts were failed."""
    settings = runtime.settings
    now = utcnow()
    processing_cutoff = now - timedelta(seconds=settings.task_time_limit_seconds)
    pending_cutoff = now - timedelta(seconds=settings.pending_time_limit_seconds)
    with session_scope(runtime.sessions) as session:
        stuck = list(
            session.scalars(
                select(RestoreAttempt.id).where(
                    or_(
                        (RestoreAttempt.status == AttemptStatus.PROCESSING)
                        & (RestoreAttempt.started_at < processing_cutoff),
                        (RestoreAttempt.status == AttemptStatus.PENDING)
                        & (RestoreAttempt.created_at < pending_cutoff),
                    )
                )
            )
        )
    waiting = runtime.budgets.waiting(stuck)  # pending on a provider budget, not lost
    failed = 0
    for attempt_id in stuck:
        if str(attempt_id) in waiting:
            continue
        with session_scope(runtime.sessions) as session:
            attempt = session.get(RestoreAttempt, attempt_id)
            owner = (attempt.photo.owner_id, attempt.photo_id) if attempt is not None else None
            remote = (attempt.engine, attempt.params.get("remote")) if attempt is not None else None
            swept = mark_failed(
                session,
                attempt_id,
                code=TIMED_OUT[0],
                message=TIMED_OUT[1],
                detail="no result within the task time limit; the worker may have died",
            )
        if swept and owner is not None:
            failed += 1
            if remote is not None and remote[1] is not None:
                # Nobody collects its result any more: stop it from holding the GPU (and billing).
                cancelled = _cancel_remote_job(runtime, *remote)
                log.warning(
                    "swept attempt %s: %s job %s %s",
                    attempt_id,
                    remote[0],
                    remote[1],
                    "cancelled" if cancelled else "could not be cancelled",
                )
            _discard_attempt_objects(runtime, attempt_id, *owner)
            publish_restore_attempt(runtime, attempt_id)
    if failed:
        log.warning("sweep failed %d stuck attempt(s)", failed)
    remove_orphaned_objects(runtime)
    return failed
