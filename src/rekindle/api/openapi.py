"""Shared OpenAPI declarations: the error body and the statuses every route may answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Missing, invalid or expired bearer token",
        404: "Not found (or not yours)",
        409: "Conflict with the resource's state",
        413: "Upload too large",
        415: "Unsupported media type",
        422: "Invalid input",
        503: "A backing service is unavailable",
    }.items()
}


# --- OpenAPI links (issue 12) -------------------------------------------------------------------
# An operation that creates a resource links to the operations that take its id (OpenAPI 3.1,
# "Link Object": `operationId` and runtime expressions such as `$response.body#/id`). Clients and
# generators follow them, and schemathesis' stateful phase chains real ids through them instead of
# guessing ids that answer 404.
# (producer path, method, success status) -> [(consumer path prefix, {parameter: expression})]
LINKS: dict[tuple[str, str, str], list[tuple[str, dict[str, str]]]] = {
    ("/api/v1/photos", "post", "201"): [
        ("/api/v1/photos/{photo_id}", {"photo_id": "$response.body#/id"}),
    ],
    ("/api/v1/jobs/upload", "post", "201"): [
        ("/api/v1/jobs/{job_id}", {"job_id": "$response.body#/id"}),
        ("/api/v1/photos/{photo_id}", {"photo_id": "$response.body#/id"}),  # a job is a photo
    ],
    ("/api/v1/photos/{photo_id}/restore", "post", "202"): [
        (
            "/api/v1/photos/{photo_id}/restores/{attempt_id}",
            {"photo_id": "$request.path.photo_id", "attempt_id": "$response.body#/id"},
        ),
    ],
    ("/api/v1/photos/{photo_id}/animate", "post", "202"): [
        (
            "/api/v1/photos/{photo_id}/animations/{attempt_id}",
            {"photo_id": "$request.path.photo_id", "attempt_id": "$response.body#/id"},
        ),
    ],
}


def _path_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add `LINKS` to an OpenAPI document (in place; returned too): each producer's success
    response links to every operation under a consumer prefix whose path parameters the link
    fills completely. Producers or consumers absent from the document are skipped."""
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for (path, method, status), targets in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for prefix, parameters in targets:
            for consumer_path, operations in paths.items():
                if consumer_path != prefix and not consumer_path.startswith(prefix + "/"):
                    continue
                for consumer in operations.values():
                    if not isinstance(consumer, dict) or "operationId" not in consumer:
                        continue
                    if _path_parameters(consumer) != set(parameters):
                        continue
                    links[consumer["operationId"]] = {
                        "operationId": consumer["operationId"],
                        "parameters": dict(parameters),
                    }
    return schema


def install_links(app: Any) -> None:
    """Make `app.openapi()` (and so /openapi.json) carry `add_links`' links."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_links(generate())
        schema: dict[str, Any] = app.openapi_schema
        return schema

    app.openapi = openapi
