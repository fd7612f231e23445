"""Security basics: headers, trusted hosts, CORS, body limits, readiness with a dependency down,
and an OpenAPI schema that documents every route."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rekindle.app import create_app
from rekindle.config import Settings
from rekindle.migrate import upgrade
from tests.support.stack import free_port, serve_api, stack_settings


@contextmanager
def api(tmp_path: Path, **overrides: Any) -> Iterator[httpx.Client]:
    values = {**stack_settings("embedded", tmp_path), **overrides}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    upgrade(settings.sqlalchemy_url)
    with (
        serve_api(settings) as (base_url, runtime),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        client.headers["Authorization"] = f"Bearer {runtime.verifier.issue_local('sec', None, 600)}"
        yield client


def test_security_headers(tmp_path: Path) -> None:
    with api(tmp_path) as client:
        for path in ("/api/v1/photos", "/healthz", "/api/v1/photos/nope", "/"):
            response = client.get(path)
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert "Strict-Transport-Security" not in response.headers
        api_answer = client.get("/api/v1/photos")
        assert api_answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert api_answer.headers["Cache-Control"] == "no-store"
        # The built-in page keeps its own policy: same-origin scripts, images from the store.
        page = client.get("/").headers["Content-Security-Policy"]
        assert "script-src 'self'" in page and "img-src" in page
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "https://cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]


def test_hsts_when_configured(tmp_path: Path) -> None:
    with api(tmp_path, hsts_seconds=31536000) as client:
        hsts = client.get("/healthz").headers["Strict-Transport-Security"]
        assert hsts == "max-age=31536000; includeSubDomains"


def test_trusted_hosts(tmp_path: Path) -> None:
    with api(tmp_path, allowed_hosts="rekindle.example.com,127.0.0.1") as client:
        assert client.get("/healthz").status_code == 200
        bad = client.get("/healthz", headers={"Host": "evil.example.net"})
        assert bad.status_code == 400
        good = client.get("/healthz", headers={"Host": "rekindle.example.com"})
        assert good.status_code == 200


def test_cors_from_configuration(tmp_path: Path) -> None:
    with api(tmp_path, cors_origins="https://app.example.com") as client:
        preflight = client.options(
            "/api/v1/photos",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        answer = client.get("/api/v1/photos", headers={"Origin": "https://app.example.com"})
        exposed = answer.headers["Access-Control-Expose-Headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed
        other = client.options(
            "/api/v1/photos",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "Access-Control-Allow-Origin" not in other.headers


def test_json_bodies_have_their_own_limit(tmp_path: Path) -> None:
    with api(tmp_path, max_request_body_bytes=4096) as client:
        big = client.post(
            "/api/v1/photos/3fa85f64-5717-4562-b3fc-2c963f66afa6/selected-restore",
            json={"attempt_id": "x" * 10_000},
        )
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "request_too_large"
        # The restore routes take a damage mask in their JSON body: up to a 10 MB PNG in base64.
        from rekindle.api.middleware import RESTORE_BODY_BYTES

        masked = client.post(
            "/api/v1/photos/3fa85f64-5717-4562-b3fc-2c963f66afa6/restore",
            json={"prompt": "x" * 10_000},
        )
        assert masked.status_code != 413
        huge = client.post(
            "/api/v1/jobs/3fa85f64-5717-4562-b3fc-2c963f66afa6/restore",
            content=b"{" + b" " * RESTORE_BODY_BYTES + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        small = client.post(
            "/api/v1/photos/3fa85f64-5717-4562-b3fc-2c963f66afa6/restore", json={"denoise": 0.5}
        )
        assert small.status_code == 404  # past the limit, into the endpoint
        # Uploads keep the upload limit (50 MB), far above the JSON one.
        from tests.production.helpers import small_png

        image = small_png(size=(400, 300)) + b"\0" * 8000  # > 4 KB: trailing bytes after IEND
        upload = client.post("/api/v1/photos", files={"file": ("p.png", image, "image/png")})
        assert upload.status_code != 413, upload.text
        # ... and only uploads: a multipart body elsewhere (the webhook, no token needed) does not
        # get the upload limit by saying it is one.
        for path in (
            "/api/v1/billing/webhook",
            "/api/v1/photos/3fa85f64-5717-4562-b3fc-2c963f66afa6/selected-restore",
        ):
            posing = client.post(path, files={"file": ("p.png", image, "image/png")})
            assert posing.status_code == 413, (path, posing.text)


def test_readyz_fails_when_redis_is_down(tmp_path: Path) -> None:
    """A stack pointed at a closed port instead of the real Redis: not ready, naming the queue."""
    closed = free_port()
    with api(tmp_path, redis_url=f"redis://127.0.0.1:{closed}/0") as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["queue"].startswith("down")
        assert body["checks"]["database"] == "ok"
        # The process itself is alive, and /metrics still answers (queue depth unknown).
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        # Live events live on that Redis: a clear 503, never a 500 or a stream that says nothing.
        for response in (
            client.post("/api/v1/events/ticket"),
            client.get("/api/v1/events"),
            client.get(
                "/api/v1/events", params={"ticket": "x" * 43}, headers={"Authorization": ""}
            ),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "events_unavailable"


def test_readyz_ready(tmp_path: Path) -> None:
    with api(tmp_path) as client:
        response = client.get("/readyz")
        assert response.status_code == 200 and response.json()["status"] == "ready"


def test_openapi_documents_every_route(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, rekindle_data_dir=str(tmp_path))  # type: ignore[call-arg]
    spec = create_app(settings).openapi()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    public = {"/healthz", "/readyz", "/metrics", "/api/v1/billing/webhook"}
    limited = {
        ("post", "/api/v1/photos"),
        ("post", "/api/v1/photos/{photo_id}/restore"),
        ("post", "/api/v1/jobs/upload"),
        ("post", "/api/v1/jobs/{job_id}/restore"),
        ("post", "/api/v1/restoration/restore"),
        ("post", "/api/v1/photos/{photo_id}/animate"),
        ("post", "/api/v1/jobs/{job_id}/animate"),
        ("post", "/api/v1/photos/{photo_id}/animations/{attempt_id}/hd"),
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary") and operation.get("description"), where
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, where
            for code in success:
                if code != "204":
                    assert responses[code].get("content"), where
            if path.startswith("/api/v1/") and path not in public:
                # Protected: bearer security declared and 401 documented.
                assert operation.get("security") or "401" in responses, where
            if (method, path) in limited:
                assert "429" in responses, where
                assert "Retry-After" in responses["429"]["headers"], where


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_routes_have_schemas(tmp_path: Path, path: str) -> None:
    settings = Settings(_env_file=None, rekindle_data_dir=str(tmp_path))  # type: ignore[call-arg]
    operation = create_app(settings).openapi()["paths"][path]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema != {}, path
