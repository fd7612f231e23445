"""`/api/v1/scans`: upload a scan of several prints, preview or confirm its crops."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from sqlalchemy.orm import Session

from rekindle.albums.service import get_album
from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.models import Photo, Scan
from rekindle.photos.uploads import receive_upload
from rekindle.photos.views import photo_out
from rekindle.runtime import Runtime
from rekindle.scans import service
from rekindle.scans.schemas import CutIn, DetectedPrintOut, ScanOut

router = APIRouter(
    route_class=TransactionalRoute, prefix="/scans", tags=["scans"], responses=ERRORS
)


def _out(scan: Scan, made: list[Photo], runtime: Runtime, base_url: str) -> ScanOut:
    scan_url = runtime.store.download_url(
        scan.object_key, base_url=base_url, filename=scan.original_filename
    )
    return ScanOut(
        id=scan.id,
        width=scan.width,
        height=scan.height,
        scan_url=scan_url,
        display_url=(
            runtime.store.download_url(scan.display_key, base_url=base_url)
            if scan.display_key
            else scan_url
        ),
        prints=[DetectedPrintOut(**found) for found in scan.detected],
        photos=[photo_out(photo, runtime.store, base_url) for photo in made],
        created_at=scan.created_at,
    )


def _commit(session: Session, runtime: Runtime, scan: Scan | None, made: list[Photo]) -> None:
    """Commit; if that fails, remove what was stored for rows that are not kept."""
    try:
        session.commit()
    except Exception:
        service.discard_photos(runtime.store, runtime.sessions, made, reason="scan commit failed")
        if scan is not None:
            service.discard_scan(runtime.store, runtime.sessions, scan)
        raise


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScanOut, **limited("upload"))
def upload_scan(
    file: Annotated[UploadFile, File(description="A scan or photo of several prints, ≤ 50 MB")],
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    album_id: Annotated[uuid.UUID | None, Form(description="Put the photos in this album")] = None,
    preview: Annotated[
        bool, Query(description="Only detect: answer the prints, create no photos")
    ] = False,
    detect: Annotated[bool, Query(description="false: the whole scan is one photo")] = True,
    border: Annotated[bool, Query(description="Keep the prints' white borders")] = True,
) -> ScanOut:
    """Split a scan into one photo per print (straightened, cropped), or with `preview=true`
    answer the detected prints for `POST /scans/{id}/photos` to confirm."""
    with receive_upload(file.file, file.filename, runtime.settings.max_upload_bytes) as received:
        service.check_quota(runtime.sessions, runtime.settings, user.id, received.size_bytes)
        if album_id is not None:
            get_album(session, user.id, album_id)
        scan, rgb = service.store_scan(
            session,
            runtime.store,
            runtime.settings,
            user.id,
            received,
            sessions=runtime.sessions,
            detect=detect,
        )
    made: list[Photo] = []
    try:
        if not preview:
            quads = service.validate_quads(
                [found["quad"] for found in scan.detected], scan.width, scan.height
            )
            made = service.cut_photos(
                session,
                runtime.store,
                runtime.settings,
                user.id,
                scan,
                rgb,
                quads,
                border=border,
                album_id=album_id,
                sessions=runtime.sessions,
            )
    except Exception:
        session.rollback()
        service.discard_scan(runtime.store, runtime.sessions, scan)
        raise
    _commit(session, runtime, scan, made)
    return _out(scan, made, runtime, base_url)


@router.get("/{scan_id}", response_model=ScanOut)
def get_scan(
    scan_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> ScanOut:
    """The scan with its detected prints (photos cut from it are listed under `/photos`)."""
    return _out(service.get_scan(session, user.id, scan_id), [], runtime, base_url)


@router.post(
    "/{scan_id}/photos",
    status_code=status.HTTP_201_CREATED,
    response_model=ScanOut,
    **limited("upload"),
)
def cut_scan(
    scan_id: uuid.UUID,
    body: CutIn,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> ScanOut:
    """Cut the given (possibly edited) prints out of a previewed scan into photos."""
    service.check_quota(runtime.sessions, runtime.settings, user.id, 0)
    scan = service.get_scan(session, user.id, scan_id)
    if body.album_id is not None:
        get_album(session, user.id, body.album_id)
    quads = service.validate_quads([p.quad for p in body.prints], scan.width, scan.height)
    rgb = service.scan_pixels(runtime.store, scan)
    made = service.cut_photos(
        session,
        runtime.store,
        runtime.settings,
        user.id,
        scan,
        rgb,
        quads,
        border=body.border,
        album_id=body.album_id,
        sessions=runtime.sessions,
    )
    _commit(session, runtime, None, made)
    return _out(scan, made, runtime, base_url)


@router.delete("/{scan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_scan(
    scan_id: uuid.UUID, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Discard a scan no photo was cut from (an abandoned preview)."""
    service.delete_unconfirmed(session, runtime.store, user.id, scan_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
