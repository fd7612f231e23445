"""`/api/v1/photos`: thin endpoints over `photos.service`."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, File, Query, Response, UploadFile, status

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.photos import service
from rekindle.photos.schemas import (
    PhotoOut,
    PhotoPage,
    RestoreAttemptOut,
    RestoreOptions,
    SelectRestore,
)
from rekindle.photos.uploads import receive_upload
from rekindle.photos.views import attempt_out, photo_out, photo_summary
from rekindle.queue import CLEANUP_TASK, send
from rekindle.restoration.runner import accept_restore

log = logging.getLogger(__name__)
router = APIRouter(
    route_class=TransactionalRoute, prefix="/photos", tags=["photos"], responses=ERRORS
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PhotoOut, **limited("upload"))
def upload_photo(
    file: Annotated[UploadFile, File(description="JPEG, PNG, HEIC/HEIF, WebP or TIFF, ≤ 50 MB")],
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> PhotoOut:
    """Upload an original. The format is detected from the bytes; bad files get a 4xx and leave
    nothing behind."""
    with receive_upload(file.file, file.filename, runtime.settings.max_upload_bytes) as received:
        photo = service.create_photo(
            session, runtime.store, runtime.settings, user.id, received, sessions=runtime.sessions
        )
    service.commit_new_photo(session, runtime.store, runtime.sessions, photo)
    return photo_out(photo, runtime.store, base_url)


@router.get("", response_model=PhotoPage)
def list_photos(
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Annotated[
        Literal["uploaded", "processing", "ready", "archived"] | None,
        Query(description="Only photos in this status; by default every one but the archived"),
    ] = None,
) -> PhotoPage:
    """The signed-in user's photos, newest first. Archived photos are listed only with
    `status=archived`."""
    photos, next_cursor = service.list_photos(
        session, user.id, cursor=cursor, limit=limit, status=status
    )
    items = [photo_summary(photo, runtime.store, base_url) for photo in photos]
    return PhotoPage(items=items, next_cursor=next_cursor)


@router.get("/{photo_id}", response_model=PhotoOut)
def get_photo(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> PhotoOut:
    """One photo with its URLs and every restore attempt (newest first)."""
    return photo_out(service.get_photo(session, user.id, photo_id), runtime.store, base_url)


@router.delete("/{photo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_photo(
    photo_id: uuid.UUID, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Delete the photo, its attempts and every stored object."""
    service.delete_photo(session, runtime.store, user.id, photo_id)
    session.commit()
    try:  # a sweep for stragglers; the known objects are already gone
        send(runtime.celery, CLEANUP_TASK, user.id, str(photo_id))
    except Exception:
        log.warning("could not queue the cleanup of photo %s", photo_id, exc_info=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{photo_id}/archive", response_model=PhotoOut)
def archive_photo(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> PhotoOut:
    """Archive a `ready` (or `uploaded`) photo: it leaves the default listing and cannot be
    restored until unarchived. 409 while a restoration runs; an archived photo is returned as is."""
    photo = service.archive_photo(session, user.id, photo_id)
    return photo_out(photo, runtime.store, base_url)


@router.post("/{photo_id}/unarchive", response_model=PhotoOut)
def unarchive_photo(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> PhotoOut:
    """Return an archived photo to the status it had (`ready` or `uploaded`); a photo that is not
    archived is returned as is."""
    photo = service.unarchive_photo(session, user.id, photo_id)
    return photo_out(photo, runtime.store, base_url)


@router.post(
    "/{photo_id}/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestoreAttemptOut,
    **limited("restore"),
)
def restore_photo(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    options: Annotated[RestoreOptions | None, Body()] = None,
) -> RestoreAttemptOut:
    """Queue a restoration. 409 while another restoration of the photo runs."""
    attempt = accept_restore(runtime, session, user.id, photo_id, options or RestoreOptions())
    return attempt_out(attempt, runtime.store, base_url)


@router.get("/{photo_id}/restores/{attempt_id}", response_model=RestoreAttemptOut)
def get_restore_attempt(
    photo_id: uuid.UUID,
    attempt_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> RestoreAttemptOut:
    """One restore attempt: status, engine, params, result URL or error."""
    attempt = service.get_attempt(session, user.id, photo_id, attempt_id)
    return attempt_out(attempt, runtime.store, base_url)


@router.post("/{photo_id}/selected-restore", response_model=PhotoOut)
def select_restore(
    photo_id: uuid.UUID,
    body: SelectRestore,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> PhotoOut:
    """Pick the best completed attempt as the photo's result."""
    photo = service.select_attempt(session, user.id, photo_id, body.attempt_id)
    return photo_out(photo, runtime.store, base_url)
