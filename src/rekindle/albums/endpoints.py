"""`/api/v1/albums` and `/api/v1/exports`: thin endpoints over `albums.service`, `export` and
`tickets`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from rekindle.albums import export, service, tickets
from rekindle.albums.schemas import (
    AlbumIn,
    AlbumOut,
    AlbumPage,
    AlbumWithPhotos,
    ExportIn,
    ExportTicketOut,
    PhotoIds,
)
from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.models import Album
from rekindle.photos import service as photos
from rekindle.photos.views import photo_summary
from rekindle.storage.disposition import content_disposition

router = APIRouter(route_class=TransactionalRoute, tags=["albums"], responses=ERRORS)

EXPORT_ZIP_NAME = "rekindle-export.zip"
"""The file name of an export of chosen photos (an album's export is named after the album)."""

EXPORT_ROUTE: dict[str, Any] = limited("export")
EXPORT_ROUTE["responses"] = {
    **EXPORT_ROUTE["responses"],
    200: {"content": {"application/zip": {}}, "description": "A streamed ZIP archive"},
}


def _out(album: Album, count: int) -> AlbumOut:
    return AlbumOut(
        id=album.id,
        name=album.name,
        photo_count=count,
        created_at=album.created_at,
        updated_at=album.updated_at,
    )


@router.post("/albums", status_code=status.HTTP_201_CREATED, response_model=AlbumOut)
def create_album(body: AlbumIn, session: SessionDep, user: CurrentUser) -> AlbumOut:
    """A new, empty album."""
    return _out(service.create_album(session, user.id, body.name), 0)


@router.get("/albums", response_model=AlbumPage)
def list_albums(
    session: SessionDep,
    user: CurrentUser,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AlbumPage:
    """The signed-in user's albums, newest first, with their photo counts."""
    albums, next_cursor = service.list_albums(session, user.id, cursor=cursor, limit=limit)
    counts = service.photo_counts(session, [album.id for album in albums])
    return AlbumPage(items=[_out(a, counts.get(a.id, 0)) for a in albums], next_cursor=next_cursor)


@router.get("/albums/{album_id}", response_model=AlbumWithPhotos)
def get_album(
    album_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AlbumWithPhotos:
    """The album and one page of its photos, newest first (the cursor pagination of `/photos`)."""
    page, next_cursor = service.album_photos(session, user.id, album_id, cursor=cursor, limit=limit)
    album = service.get_album(session, user.id, album_id)
    count = service.photo_counts(session, [album_id]).get(album_id, 0)
    return AlbumWithPhotos(
        **_out(album, count).model_dump(),
        items=[photo_summary(photo, runtime.store, base_url) for photo in page],
        next_cursor=next_cursor,
    )


@router.patch("/albums/{album_id}", response_model=AlbumOut)
def rename_album(
    album_id: uuid.UUID, body: AlbumIn, session: SessionDep, user: CurrentUser
) -> AlbumOut:
    """Rename the album."""
    album = service.rename_album(session, user.id, album_id, body.name)
    return _out(album, service.photo_counts(session, [album_id]).get(album_id, 0))


@router.delete("/albums/{album_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_album(
    album_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    delete_photos: Annotated[
        bool, Query(description="Also delete the album's photos (default: they stay)")
    ] = False,
) -> Response:
    """Delete the album; its photos stay unless `delete_photos=true`."""
    photo_ids = service.delete_album(session, user.id, album_id)
    if delete_photos:
        for photo_id in photo_ids:
            photos.delete_photo(session, runtime.store, user.id, photo_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/albums/{album_id}/photos", response_model=AlbumOut)
def add_photos(
    album_id: uuid.UUID, body: PhotoIds, session: SessionDep, user: CurrentUser
) -> AlbumOut:
    """Add photos to the album (all or nothing: 404 when any is not yours)."""
    album = service.add_photos(session, user.id, album_id, body.photo_ids)
    return _out(album, service.photo_counts(session, [album_id]).get(album_id, 0))


@router.delete("/albums/{album_id}/photos/{photo_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_photo(
    album_id: uuid.UUID, photo_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> Response:
    """Take a photo out of the album; the photo stays."""
    service.remove_photo(session, user.id, album_id, photo_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _zip_response(
    runtime: RuntimeDep, entries_and_records: tuple, filename: str
) -> StreamingResponse:
    entries, records = entries_and_records
    return StreamingResponse(
        export.stream_zip(runtime.store, entries, records),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(filename), "Cache-Control": "no-store"},
    )


def _album_zip_name(album: Album) -> str:
    return f"{album.name}.zip"


@router.get(
    "/albums/{album_id}/export",
    response_class=StreamingResponse,
    **EXPORT_ROUTE,
)
def export_album(
    album_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    originals: Annotated[bool, Query(description="Also include the originals")] = False,
    animations: Annotated[bool, Query(description="Also include the latest animations")] = False,
) -> StreamingResponse:
    """A streamed ZIP of the album's chosen results (human file names) and `manifest.json`,
    offered as `{album name}.zip`."""
    album, photo_ids = service.album_with_photo_ids(session, user.id, album_id)
    chosen = export.load_photos(session, user.id, photo_ids)
    planned = export.plan(chosen, originals=originals, animations=animations)
    return _zip_response(runtime, planned, _album_zip_name(album))


@router.post("/exports", response_class=StreamingResponse, **EXPORT_ROUTE)
def export_photos(
    body: ExportIn, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> StreamingResponse:
    """A streamed ZIP of the given photos' chosen results and `manifest.json`."""
    chosen = export.load_photos(session, user.id, body.photo_ids)
    planned = export.plan(chosen, originals=body.originals, animations=body.animations)
    return _zip_response(runtime, planned, EXPORT_ZIP_NAME)


TICKET_ROUTE: dict[str, Any] = {
    "status_code": status.HTTP_201_CREATED,
    "response_model": ExportTicketOut,
    **limited("export"),
}


def _ticket_out(base_url: str, ticket: str, expires_at: datetime) -> ExportTicketOut:
    return ExportTicketOut(url=f"{base_url}/api/v1/exports/{ticket}", expires_at=expires_at)


@router.post("/albums/{album_id}/export-ticket", **TICKET_ROUTE)
def album_export_ticket(
    album_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    originals: Annotated[bool, Query(description="Also include the originals")] = False,
    animations: Annotated[bool, Query(description="Also include the latest animations")] = False,
) -> ExportTicketOut:
    """A one-time link that downloads the album's export (as `GET /albums/{id}/export` would)
    without the bearer token, so that a browser can stream it to disk. Counts as one export."""
    album, photo_ids = service.album_with_photo_ids(session, user.id, album_id)
    ticket, expires_at = tickets.issue_ticket(
        session,
        user.id,
        photo_ids,
        originals=originals,
        animations=animations,
        filename=_album_zip_name(album),
    )
    return _ticket_out(base_url, ticket, expires_at)


@router.post("/exports/tickets", **TICKET_ROUTE)
def export_ticket(
    body: ExportIn, runtime: RuntimeDep, session: SessionDep, user: CurrentUser, base_url: BaseUrl
) -> ExportTicketOut:
    """A one-time link that downloads the export of the given photos (as `POST /exports` would)
    without the bearer token. Counts as one export."""
    ticket, expires_at = tickets.issue_ticket(
        session,
        user.id,
        body.photo_ids,
        originals=body.originals,
        animations=body.animations,
        filename=EXPORT_ZIP_NAME,
    )
    return _ticket_out(base_url, ticket, expires_at)


@router.get(
    "/exports/{ticket}",
    response_class=StreamingResponse,
    responses={200: EXPORT_ROUTE["responses"][200]},
)
def download_export(ticket: str, runtime: RuntimeDep, session: SessionDep) -> StreamingResponse:
    """The ZIP a ticket was issued for, streamed; no token needed, the ticket is the credential
    and works once. 404 `export_ticket_not_found` when it is unknown, used or expired."""
    redeemed = tickets.redeem_ticket(session, ticket)
    chosen = export.load_photos(session, redeemed.user_id, redeemed.photo_uuids())
    planned = export.plan(chosen, originals=redeemed.originals, animations=redeemed.animations)
    return _zip_response(runtime, planned, redeemed.filename)
