"""The published schema links created photos and jobs to the operations that take their id
(OpenAPI 3.1 Link Objects), so clients and schemathesis' stateful phase can chain them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from rekindle.app import create_app
from rekindle.config import Settings


def _links(schema: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    return schema["paths"][path][method]["responses"][status].get("links", {})  # type: ignore[no-any-return]


def test_uploads_link_to_the_operations_on_their_id(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, rekindle_data_dir=tmp_path))  # type: ignore[call-arg]
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
    ids = {
        op["operationId"]: (method, path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    photo = _links(schema, "/api/v1/photos", "post", "201")
    targets = {ids[link["operationId"]] for link in photo.values()}
    assert {
        ("get", "/api/v1/photos/{photo_id}"),
        ("delete", "/api/v1/photos/{photo_id}"),
        ("post", "/api/v1/photos/{photo_id}/restore"),
        ("post", "/api/v1/photos/{photo_id}/animate"),
    } <= targets
    assert all(link["parameters"] == {"photo_id": "$response.body#/id"} for link in photo.values())
    job = _links(schema, "/api/v1/jobs/upload", "post", "201")
    targets = {ids[link["operationId"]] for link in job.values()}
    assert {("get", "/api/v1/jobs/{job_id}"), ("post", "/api/v1/jobs/{job_id}/restore")} <= targets
    restore = _links(schema, "/api/v1/photos/{photo_id}/restore", "post", "202")
    (attempt,) = restore.values()
    assert ids[attempt["operationId"]] == ("get", "/api/v1/photos/{photo_id}/restores/{attempt_id}")
    assert attempt["parameters"] == {
        "photo_id": "$request.path.photo_id",
        "attempt_id": "$response.body#/id",
    }
