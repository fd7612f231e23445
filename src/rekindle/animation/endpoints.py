"""Animation endpoints under `/photos/{id}` and seed 004's `/jobs/{job_id}/animate`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, status

from rekindle.animation import service
from rekindle.animation.runner import dispatch
from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.ratelimit import limited
from rekindle.api.routing import TransactionalRoute
from rekindle.photos.schemas import AnimateOptions, AnimationAttemptOut
from rekindle.photos.views import animation_out

router = APIRouter(route_class=TransactionalRoute, tags=["animation"], responses=ERRORS)


def _animate(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    options: AnimateOptions | None,
) -> AnimationAttemptOut:
    attempt = service.request_animation(
        session, runtime.settings, user.id, photo_id, (options or AnimateOptions()).engine
    )
    session.commit()
    dispatch(runtime, attempt.id, hd=False)
    return animation_out(attempt, runtime.store, base_url)


@router.post(
    "/photos/{photo_id}/animate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AnimationAttemptOut,
    **limited("animate"),
)
def animate_photo(
    photo_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    options: Annotated[AnimateOptions | None, Body()] = None,
) -> AnimationAttemptOut:
    """Animate the selected restoration (the original if none): a 480p preview MP4 and a
    thumbnail. 409 while a restoration of the photo runs."""
    return _animate(photo_id, runtime, session, user, base_url, options)


@router.post(
    "/jobs/{job_id}/animate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AnimationAttemptOut,
    tags=["jobs (seed 004)"],
    **limited("animate"),
)
def animate_job(
    job_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    options: Annotated[AnimateOptions | None, Body()] = None,
) -> AnimationAttemptOut:
    """Seed 004's animate: the same as `POST /photos/{id}/animate`."""
    return _animate(job_id, runtime, session, user, base_url, options)


@router.get("/photos/{photo_id}/animations/{attempt_id}", response_model=AnimationAttemptOut)
def get_animation(
    photo_id: uuid.UUID,
    attempt_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> AnimationAttemptOut:
    """One animation attempt with its preview, thumbnail and HD result URLs."""
    attempt = service.get_animation(session, user.id, photo_id, attempt_id)
    return animation_out(attempt, runtime.store, base_url)


@router.post(
    "/photos/{photo_id}/animations/{attempt_id}/hd",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AnimationAttemptOut,
    **limited("animate"),
)
def request_hd_result(
    photo_id: uuid.UUID,
    attempt_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
) -> AnimationAttemptOut:
    """Order the paid HD result (1080p, or the engine's best) of a finished animation."""
    attempt = service.request_hd(session, runtime.settings, user.id, photo_id, attempt_id)
    session.commit()
    dispatch(runtime, attempt.id, hd=True)
    return animation_out(attempt, runtime.store, base_url)
