"""`/api/v1/photos/{id}/shares` (the owner's links) and `/api/v1/shares/{token}` (public)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.routing import TransactionalRoute
from rekindle.photos.views import display_url
from rekindle.shares import service

router = APIRouter(route_class=TransactionalRoute, tags=["shares"], responses=ERRORS)


class ShareCreate(BaseModel):
    """Body of `POST /photos/{id}/shares`; every field is optional."""

    expires_in_days: int = Field(
        service.DEFAULT_DAYS, ge=1, le=365, description="Days the link works (1-365)"
    )
    restore_id: uuid.UUID | None = Field(
        None, description="The completed attempt to show; default: the photo's chosen result"
    )


class ShareOut(BaseModel):
    id: uuid.UUID
    url: str | None = Field(
        description="The public link (`/s/{token}`); only in the answer that created it"
    )
    restore_id: uuid.UUID
    created_at: datetime
    expires_at: datetime


class ShareList(BaseModel):
    items: list[ShareOut] = Field(description="Working links, newest first")


class SharedView(BaseModel):
    before_url: str = Field(description="Signed URL of the original's JPEG display copy")
    after_url: str = Field(description="Signed URL of the restored JPEG")
    width: int = Field(description="Pixels of the original, upright")
    height: int
    expires_at: datetime = Field(description="When the link stops working")


@router.post(
    "/photos/{photo_id}/shares", status_code=status.HTTP_201_CREATED, response_model=ShareOut
)
def create_share(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    body: Annotated[ShareCreate | None, Body()] = None,
) -> ShareOut:
    """Make a public link to the photo's before/after. The URL is shown once (only a hash of its
    token is kept). 409 `nothing_to_share` without a completed result."""
    body = body or ShareCreate()
    days = min(body.expires_in_days, runtime.settings.share_max_days)
    link, token = service.create_share(
        session, user.id, photo_id, days=days, restore_id=body.restore_id
    )
    return ShareOut(
        id=link.id,
        url=f"{base_url}/s/{token}",
        restore_id=link.restore_id,
        created_at=link.created_at,
        expires_at=link.expires_at,
    )


@router.get("/photos/{photo_id}/shares", response_model=ShareList)
def list_shares(photo_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ShareList:
    """The photo's working links (URLs are not kept, so `url` is null)."""
    links = service.active_shares(session, user.id, photo_id)
    return ShareList(
        items=[
            ShareOut(
                id=link.id,
                url=None,
                restore_id=link.restore_id,
                created_at=link.created_at,
                expires_at=link.expires_at,
            )
            for link in links
        ]
    )


@router.delete("/photos/{photo_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_share(
    photo_id: uuid.UUID, share_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> Response:
    """Revoke a link: it answers 404 from now on."""
    service.revoke_share(session, user.id, photo_id, share_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/shares/{token}", response_model=SharedView)
def open_share(
    token: str, response: Response, runtime: RuntimeDep, session: SessionDep, base_url: BaseUrl
) -> SharedView:
    """What a share link shows, without signing in: signed URLs of the original's display copy
    and of the result, nothing else of the owner. 404 `share_not_found` when the link is
    unknown, revoked or expired, or its photo was deleted."""
    shared = service.open_share(session, token)
    before = display_url(shared.photo, runtime.store, base_url)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    assert shared.attempt.s3_key
    after = runtime.store.download_url(shared.attempt.s3_key, base_url=base_url)
    return SharedView(
        # An old photo whose original browsers cannot show (no display copy): the result alone.
        before_url=before or after,
        after_url=after,
        width=shared.photo.width,
        height=shared.photo.height,
        expires_at=shared.link.expires_at,
    )
