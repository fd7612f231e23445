"""Serve the built-in page: `/` is `static/index.html`, `/static/...` its files.

Plain files, no build step and no Node at run time. The page only talks to `/api/v1`, so it runs
from this server's origin; its Content-Security-Policy allows scripts and styles from this origin
only, and images and video also from the store's origin (S3, CloudFront) via `https:`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: https: http:",
        "media-src 'self' blob: https: http:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
"""`http:` for images and video only because a local S3-compatible store (MinIO) is often plain
HTTP; scripts never load from anywhere but this origin."""


def _page(name: str, *, status_code: int = 200, cache: str = "no-cache") -> FileResponse:
    return FileResponse(
        STATIC_DIR / name,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": cache,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _index() -> FileResponse:
    return _page("index.html")


def _share_page(request: Request, token: str) -> FileResponse:
    """The public share page (`static/share.html`, which fetches `/api/v1/shares/{token}`);
    answered with status 404 when the link does not work, so crawlers and previews see it ended.
    `no-store`: the URL is the credential; `no-referrer` keeps it out of the image requests."""
    from rekindle.db import session_scope
    from rekindle.errors import NotFound
    from rekindle.shares.service import open_share

    runtime = request.app.state.runtime
    try:
        with session_scope(runtime.sessions) as session:
            open_share(session, token)
    except NotFound:
        return _page("share.html", status_code=404, cache="no-store")
    return _page("share.html", cache="no-store")


def install_web(app: FastAPI) -> None:
    """Add `/` (the page) and `/static` (its files) to `app`, outside the OpenAPI schema."""
    app.add_api_route("/", _index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/s/{token}", _share_page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
