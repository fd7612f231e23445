"""Serve the built-in page: `/` is `static/index.html`, `/static/...` its files.

Plain files, no build step and no Node at run time. The page only talks to `/api/v1`, so it runs
from this server's origin; its Content-Security-Policy allows scripts and styles from this origin
only, and images and video also from the store's origin (S3, CloudFront) via `https:`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
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


def _index() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def install_web(app: FastAPI) -> None:
    """Add `/` (the page) and `/static` (its files) to `app`, outside the OpenAPI schema."""
    app.add_api_route("/", _index, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
