"""`POST /api/v1/photos/restore-batch`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, status

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.restoration.batch import BatchOut, BatchRestoreIn, restore_batch

router = APIRouter(
    route_class=TransactionalRoute, prefix="/photos", tags=["photos"], responses=ERRORS
)


@router.post(
    "/restore-batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchOut,
    **limited("batch"),
)
def restore_many(
    body: BatchRestoreIn,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=255, description="Retrying with the same key returns the first answer"),
    ] = None,
) -> dict[str, object]:
    """Restore many photos at once, priced up front and all or nothing (402 with the total)."""
    return restore_batch(
        runtime, session, user.id, body, idempotency_key=idempotency_key, base_url=base_url
    )
