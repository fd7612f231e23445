"""A fake RunPod serverless queue endpoint running a worker-comfyui-like handler.

Follows https://docs.runpod.io/serverless/endpoints/operation-reference: `POST /v2/{endpoint}/run`
`{"input": ...}` -> `{"id", "status": "IN_QUEUE"}`; `GET|POST /v2/{endpoint}/status/{id}` ->
`{"id", "status", "delayTime", "executionTime", "output" | "error"}`; `POST /v2/{endpoint}/cancel/{id}`
-> `{"id", "status": "CANCELLED"}`; the 10 MB `/run` body limit. The "worker" validates its input as
runpod-workers/worker-comfyui's `handler.py` does (`workflow`, `images: [{name, image}]`, the
LoadImage node naming an uploaded image) and answers `{"images": [{"filename", "type", "data"}]}`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .base import FakeServer
from .media import png_bytes

API_KEY = "rp-test"
RUN_LIMIT = 10 * 1000 * 1000


class FakeRunPod(FakeServer):
    """Knobs:

    - `endpoints`: the endpoint ids that exist.
    - `progress`: states shown before the final one (default IN_QUEUE, IN_PROGRESS).
    - `final`: COMPLETED, FAILED, TIMED_OUT or CANCELLED; `hang`: never final.
    - `error_text`: the job's `error` when FAILED; `error_details`: its `output.details` then
      (runpod-python keeps what the handler returned beside `error` as the job's output).
    - `result`: bytes of the produced file, `result_name`; `output_mode`: "base64", "s3_url",
      "legacy" (4.x `{"message", "status"}`), or a callable(job_input) -> output.
    - `fail_run`: (status, body) for `/run`; `status_delay`: seconds before `/status` answers;
      `malformed_status`: `/status` answers broken JSON.
    """

    def __init__(self, endpoints: tuple[str, ...] = ("ep-restore", "ep-animate")) -> None:
        self.endpoints = set(endpoints)
        self.progress = ["IN_QUEUE", "IN_PROGRESS"]
        self.final = "COMPLETED"
        self.hang = False
        self.error_text = (
            "Workflow validation failed: node 4 (CheckpointLoaderSimple): Value not in list"
        )
        self.error_details: list[str] | None = None
        self.result: bytes = png_bytes(72, 54)
        self.result_name = "ComfyUI_00001_.png"
        self.output_mode: str | Callable[[dict[str, Any]], Any] = "base64"
        self.fail_run: tuple[int, Any] | None = None
        self.status_delay = 0.0
        self.malformed_status = False
        self.jobs: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        super().__init__()

    @property
    def api_base(self) -> str:
        return f"{self.url}/v2"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/{endpoint}/run", self.run, methods=["POST"]),
            Route("/v2/{endpoint}/status/{job_id}", self.status, methods=["GET", "POST"]),
            Route("/v2/{endpoint}/cancel/{job_id}", self.cancel, methods=["POST"]),
            Route("/files/{name}", self.files, methods=["GET"]),
        ]

    def _check(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if auth not in (f"Bearer {API_KEY}", API_KEY):
            return Response(b"Unauthorized", status_code=401, media_type="text/plain")
        if request.path_params["endpoint"] not in self.endpoints:
            return Response(b"404 page not found", status_code=404, media_type="text/plain")
        return None

    async def run(self, request: Request) -> Response:
        problem = self._check(request)
        if problem is not None:
            return problem
        body = await request.body()
        if len(body) > RUN_LIMIT:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        if self.fail_run is not None:
            status, content = self.fail_run
            payload = content if isinstance(content, bytes) else json.dumps(content).encode()
            return Response(payload, status_code=status, media_type="application/json")
        data = json.loads(body)
        job_id = f"{uuid.uuid4()}-u1"
        self.jobs[job_id] = {
            "input": data.get("input"),
            "polls": 0,
            "status": "IN_QUEUE",
            "endpoint": request.path_params["endpoint"],
        }
        return JSONResponse({"id": job_id, "status": "IN_QUEUE"})

    async def status(self, request: Request) -> Response:
        problem = self._check(request)
        if problem is not None:
            return problem
        if self.status_delay:
            await asyncio.sleep(self.status_delay)
        if self.malformed_status:
            return Response(b"<html>502 Bad Gateway", media_type="application/json")
        job_id = request.path_params["job_id"]
        job = self.jobs.get(job_id)
        if job is None:
            return JSONResponse({"error": "request does not exist"}, status_code=404)
        if job["status"] not in ("CANCELLED",):
            job["polls"] += 1
            if job["polls"] <= len(self.progress) or self.hang:
                job["status"] = (
                    self.progress[min(job["polls"], len(self.progress)) - 1]
                    if self.progress
                    else "IN_QUEUE"
                )
            else:
                self._finish(job)
        answer: dict[str, Any] = {"id": job_id, "status": job["status"]}
        if job["status"] in ("COMPLETED", "FAILED", "TIMED_OUT"):
            answer |= {"delayTime": 812, "executionTime": 2345}
        if "output" in job:
            answer["output"] = job["output"]
        if "error" in job:
            answer["error"] = job["error"]
        return JSONResponse(answer)

    def _finish(self, job: dict[str, Any]) -> None:
        if job["status"] in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"):
            return
        problem = self._worker_validate(job["input"])
        if problem:
            job["status"], job["error"] = "FAILED", problem
            return
        job["status"] = self.final
        if self.final == "FAILED":
            job["error"] = self.error_text
            if self.error_details:
                job["output"] = {"details": self.error_details}
        elif self.final == "COMPLETED":
            job["output"] = self._output(job["input"])

    @staticmethod
    def _worker_validate(job_input: Any) -> str | None:
        if not isinstance(job_input, dict) or "workflow" not in job_input:
            return "Missing 'workflow' parameter"
        images = job_input.get("images") or []
        if not all(isinstance(i, dict) and "name" in i and "image" in i for i in images):
            return "'images' must be a list of objects with 'name' and 'image' keys"
        names = set()
        for image in images:
            try:
                base64.b64decode(image["image"].split(",", 1)[-1], validate=True)
            except (binascii.Error, ValueError):
                return f"Error decoding base64 for {image['name']}"
            names.add(image["name"])
        for node_id, node in job_input["workflow"].items():
            if node.get("class_type") == "LoadImage" and node["inputs"].get("image") not in names:
                return (
                    f"Workflow validation failed:\n• Node {node_id} (errors): "
                    f"Invalid image file: {node['inputs'].get('image')}"
                )
        return None

    def _output(self, job_input: dict[str, Any]) -> Any:
        if callable(self.output_mode):
            return self.output_mode(job_input)
        if self.output_mode == "legacy":
            return {"message": base64.b64encode(self.result).decode(), "status": "success"}
        if self.output_mode == "s3_url":
            return {
                "images": [
                    {
                        "filename": self.result_name,
                        "type": "s3_url",
                        "data": f"{self.url}/files/{self.result_name}",
                    }
                ]
            }
        return {
            "images": [
                {
                    "filename": self.result_name,
                    "type": "base64",
                    "data": base64.b64encode(self.result).decode(),
                }
            ]
        }

    async def cancel(self, request: Request) -> Response:
        problem = self._check(request)
        if problem is not None:
            return problem
        job_id = request.path_params["job_id"]
        self.cancelled.append(job_id)
        if job_id in self.jobs:
            self.jobs[job_id]["status"] = "CANCELLED"
        return JSONResponse({"id": job_id, "status": "CANCELLED"})

    async def files(self, request: Request) -> Response:
        return Response(self.result, media_type="application/octet-stream")
