"""`/api/v1/restoration` (seed 003): upload-and-restore in one request, then track the job."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.errors import AppError
from rekindle.photos import service
from rekindle.photos.schemas import RestoreOptions
from rekindle.photos.uploads import receive_upload
from rekindle.restoration.runner import dispatch_restore
from rekindle.restoration.schemas import RestorationJob, RestorationJobCreated

router = APIRouter(
    route_class=TransactionalRoute,
    prefix="/restoration",
    tags=["restoration (seed 003)"],
    responses=ERRORS,
)


@router.post(
    "/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestorationJobCreated,
    **limited("upload", "restore"),
)
def restore_upload(
    file: Annotated[UploadFile, File(description="JPEG, PNG, HEIC/HEIF, WebP or TIFF, ≤ 50 MB")],
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    denoise: Annotated[float, Form(ge=0.0, le=1.0, description="Denoise strength 0.0-1.0")] = 0.5,
) -> RestorationJobCreated:
    """Upload a photo and queue its restoration with the default engine; returns the job id.

    All or nothing: if the restoration cannot be accepted (e.g. 402), the upload is not kept."""
    options = RestoreOptions(denoise=denoise)
    validated = service.validate_restore(runtime.settings, options)  # 400/422 before any upload
    with receive_upload(file.file, file.filename, runtime.settings.max_upload_bytes) as received:
        photo = service.create_photo(
            session, runtime.store, runtime.settings, user.id, received, sessions=runtime.sessions
        )
    try:
        attempt = service.request_restore(
            session, runtime.settings, user.id, photo.id, options, validated=validated
        )
    except Exception as exc:  # a refusal (402, 409) or the database failing: the row goes
        session.rollback()
        # Best effort: a storage outage here must not hide the refusal (e.g. 402) from the user.
        code = exc.code if isinstance(exc, AppError) else type(exc).__name__
        service.discard_new_photo_objects(
            runtime.store, runtime.sessions, photo, reason=f"upload refused: {code}"
        )
        raise
    service.commit_new_photo(session, runtime.store, runtime.sessions, photo)
    dispatch_restore(runtime, attempt.id)
    return RestorationJobCreated(job_id=photo.id, status=attempt.status)


@router.get("/jobs/{job_id}", response_model=RestorationJob)
def get_restoration_job(
    job_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> RestorationJob:
    """The job's status: its latest attempt's, with the original and processed image URLs."""
    photo = service.get_photo(session, user.id, job_id)
    latest = photo.restore_attempts[-1] if photo.restore_attempts else None
    store = runtime.store
    processed_key = latest.s3_key if latest and latest.s3_key else None
    return RestorationJob(
        id=photo.id,
        job_id=photo.id,
        user_id=photo.owner_id,
        status=latest.status if latest else "pending",
        original_image_url=store.download_url(photo.original_key, base_url=base_url),
        processed_image_url=store.download_url(processed_key, base_url=base_url)
        if processed_key
        else None,
        denoise=latest.params.get("request", {}).get("denoise") if latest else None,
        error_message=latest.error_message if latest else None,
        error_code=latest.error_code if latest else None,
        created_at=photo.created_at,
        updated_at=(latest.finished_at or latest.started_at or latest.created_at)
        if latest
        else photo.updated_at,
    )
