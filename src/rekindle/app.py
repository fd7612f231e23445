"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from rekindle import __version__
from rekindle.albums.endpoints import router as albums_router
from rekindle.animation.endpoints import router as animation_router
from rekindle.api.errors import install_error_handlers
from rekindle.api.middleware import RequestBodyLimit, RequestContext, SecurityHeaders
from rekindle.api.observability import router as metrics_router
from rekindle.api.openapi import install_links
from rekindle.api.system import router as system_router
from rekindle.api.upload_gate import UploadGate
from rekindle.auth.endpoints import router as auth_router
from rekindle.config import Settings, get_settings
from rekindle.credits.billing import router as billing_router
from rekindle.credits.endpoints import router as account_router
from rekindle.events.endpoints import router as events_router
from rekindle.imaging.decode import register_heif
from rekindle.jobs.endpoints import router as jobs_router
from rekindle.photos.endpoints import router as photos_router
from rekindle.restoration.batch_endpoints import router as batch_router
from rekindle.restoration.endpoints import router as restoration_router
from rekindle.runtime import Runtime
from rekindle.scans.endpoints import router as scans_router
from rekindle.shares.endpoints import router as shares_router
from rekindle.web.routes import install_web

# Room for multipart boundaries and part headers around the largest accepted file, bytes.
MULTIPART_OVERHEAD = 64 * 1024


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, hand back the runtime's connections (database, Redis, broker)."""
    yield
    app.state.runtime.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app for `settings` (default: the environment's). Schema at /docs and /openapi.json."""
    settings = settings or get_settings()
    register_heif()
    app = FastAPI(
        title="Rekindle",
        version=__version__,
        description="Photo restoration: upload old photos, restore them, keep every attempt.",
        lifespan=_lifespan,
    )
    app.state.runtime = Runtime(settings)
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    api.include_router(batch_router)
    api.include_router(photos_router)
    api.include_router(albums_router)
    api.include_router(scans_router)
    api.include_router(account_router)
    api.include_router(billing_router)
    api.include_router(auth_router)
    api.include_router(events_router)
    api.include_router(jobs_router)
    api.include_router(animation_router)
    api.include_router(restoration_router)
    api.include_router(shares_router)
    app.include_router(api)
    app.include_router(system_router)
    app.include_router(metrics_router)
    install_web(app)
    install_links(app)  # OpenAPI links from created resources to the operations on them
    limit_mb = settings.max_upload_bytes // (1024 * 1024)
    # Middleware: the last added runs first (outermost).
    app.add_middleware(
        RequestBodyLimit,
        upload_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        other_bytes=settings.max_request_body_bytes,
        upload_message=f"The file is larger than the {limit_mb} MB upload limit.",
    )
    app.add_middleware(UploadGate)  # credentials and rate limits before an upload's body
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    hosts = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    if hosts and "*" not in hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.add_middleware(RequestContext)
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.hsts_seconds)
    return app
