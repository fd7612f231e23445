"""`/api/v1/jobs` (seed 004): upload with an email, restore, retrieve with attempts and URLs."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, UploadFile, status

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.errors import BadRequest
from rekindle.jobs.schemas import JobOut, job_out
from rekindle.photos import service
from rekindle.photos.schemas import RestoreAttemptOut, RestoreOptions
from rekindle.photos.uploads import receive_upload
from rekindle.photos.views import attempt_out
from rekindle.restoration.runner import accept_restore

router = APIRouter(
    route_class=TransactionalRoute, prefix="/jobs", tags=["jobs (seed 004)"], responses=ERRORS
)
# A pragmatic shape check (one @, a dot in the domain); deliverability is not ours to judge.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@router.post(
    "/upload", status_code=status.HTTP_201_CREATED, response_model=JobOut, **limited("upload")
)
def upload_job(
    file: Annotated[UploadFile, File(description="JPEG, PNG, HEIC/HEIF, WebP or TIFF, ≤ 50 MB")],
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    email: Annotated[str | None, Form(description="Contact email for the job")] = None,
) -> JobOut:
    """Create a job (a photo) from an upload; `email` defaults to the token's email."""
    contact = email or user.email
    if contact and (len(contact) > 320 or not _EMAIL.match(contact)):
        raise BadRequest("The email address is not valid.", code="invalid_email")
    with receive_upload(file.file, file.filename, runtime.settings.max_upload_bytes) as received:
        photo = service.create_photo(
            session,
            runtime.store,
            runtime.settings,
            user.id,
            received,
            sessions=runtime.sessions,
            email=contact,
        )
    service.commit_new_photo(session, runtime.store, runtime.sessions, photo)
    return job_out(photo, runtime.store, base_url)


@router.post(
    "/{job_id}/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestoreAttemptOut,
    **limited("restore"),
)
def restore_job(
    job_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    options: Annotated[RestoreOptions | None, Body()] = None,
) -> RestoreAttemptOut:
    """Queue a restoration of the job's photo (the same rules as `POST /photos/{id}/restore`)."""
    attempt = accept_restore(runtime, session, user.id, job_id, options or RestoreOptions())
    return attempt_out(attempt, runtime.store, base_url)


@router.get("/{job_id}", response_model=JobOut)
def get_job(
    job_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> JobOut:
    """The job with every attempt and its URLs."""
    return job_out(service.get_photo(session, user.id, job_id), runtime.store, base_url)
