"""A fake SiliconFlow image generation API (POST /v1/images/generations) and its result CDN.

Documented behaviour followed (https://docs.siliconflow.cn/cn/api-reference/images/images-generations,
https://docs.siliconflow.com/en/faqs/error-code): Bearer auth; 200 `{"images": [{"url"}],
"timings": {"inference"}, "seed"}`; 400 `{"code": 20012, "message", "data"}`; 401 bare string
`"Invalid token"`; 429 `{"message", "data"}`; 503 `{"code": 50505, "message": "Model service
overloaded. Please try again later.", "data"}`; 504 bare string. Result URLs point at `/cdn/...`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .base import FakeServer
from .media import png_bytes

API_KEY = "sk-test"
MODELS = {"Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit-2509", "Qwen/Qwen-Image"}


def body_response(status: int, body: Any) -> Response:
    """dict -> JSON object; str -> bare JSON string (as SiliconFlow's 401/504); bytes -> raw."""
    if isinstance(body, bytes):
        return Response(body, status_code=status, media_type="text/plain")
    return Response(json.dumps(body), status_code=status, media_type="application/json")


class FakeSiliconFlow(FakeServer):
    """Knobs: `fail(status, body)`, `delay` (s), `malformed`, `no_images`, `result`,
    `result_status`, `download_delay` (s)."""

    def __init__(self) -> None:
        self.error: tuple[int, Any] | None = None
        self.delay = 0.0
        self.malformed = False
        self.no_images = False
        self.result: bytes = png_bytes(96, 64)
        self.result_status = 200
        self.download_delay = 0.0
        self.payloads: list[dict[str, Any]] = []
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1/images/generations"

    def fail(self, status: int, body: Any) -> None:
        self.error = (status, body)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/images/generations", self.generate, methods=["POST"]),
            Route("/cdn/{name}", self.cdn, methods=["GET"]),
        ]

    async def generate(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return body_response(401, "Invalid token")
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return body_response(400, {"code": 20015, "message": "invalid JSON", "data": None})
        self.payloads.append(payload)
        if self.error is not None:
            return body_response(*self.error)
        problem = self._validate(payload)
        if problem:
            return body_response(400, {"code": problem[0], "message": problem[1], "data": None})
        if self.malformed:
            return Response(b'{"images": [{"url": ', media_type="application/json")
        if self.no_images:
            return JSONResponse({"images": [], "timings": {"inference": 0.1}, "seed": 1})
        return JSONResponse(
            {
                "images": [{"url": f"{self.url}/cdn/result-{len(self.payloads)}.png"}],
                "timings": {"inference": 1.25},
                "seed": payload.get("seed", 42),
            }
        )

    @staticmethod
    def _validate(payload: dict[str, Any]) -> tuple[int, str] | None:
        if payload.get("model") not in MODELS:
            return 20012, "Model does not exist. Please check it carefully."
        if not isinstance(payload.get("prompt"), str) or not payload["prompt"]:
            return 20015, "prompt is required"
        image = payload.get("image")
        if not isinstance(image, str) or not image.startswith(("data:image/", "http")):
            return 20015, "image must be a base64 data URI or a URL"
        steps = payload.get("num_inference_steps", 20)
        if not (isinstance(steps, int) and 1 <= steps <= 100):
            return 20015, "num_inference_steps out of range"
        cfg = payload.get("cfg", 4.0)
        if not (isinstance(cfg, int | float) and 0.1 <= cfg <= 20):
            return 20015, "cfg out of range"
        seed = payload.get("seed", 0)
        if not (isinstance(seed, int) and 0 <= seed <= 9_999_999_999):
            return 20015, "seed out of range"
        if "image_size" in payload and "Edit" in payload["model"]:
            return 20015, "image_size is not supported by this model"
        return None

    async def cdn(self, request: Request) -> Response:
        if self.download_delay:
            await asyncio.sleep(self.download_delay)
        if self.result_status != 200:
            return Response(b"<Error>AccessDenied</Error>", status_code=self.result_status)
        return Response(self.result, media_type="image/png")
