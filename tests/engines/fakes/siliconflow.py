"""A fake SiliconFlow image generation API (POST /v1/images/generations) and its result CDN.

Documented behaviour followed (https://docs.siliconflow.cn/cn/api-reference/images/images-generations,
https://docs.siliconflow.com/en/faqs/error-code): Bearer auth; 200 `{"images": [{"url"}],
"timings": {"inference"}, "seed"}`; 400 `{"code": 20012, "message", "data"}`; 401 bare string
`"Invalid token"`; 429 `{"message", "data"}`; 503 `{"code": 50505, "message": "Model service
overloaded. Please try again later.", "data"}`; 504 bare string. Result URLs point at `/cdn/...`.
Every answer of the generation route carries an `x-siliconcloud-trace-id` header (documented on the
200 answer); `trace_ids` lists the ones handed out.
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


MAX_IMAGE_CHARS = 10_000_000
"""The fake refuses a larger `image` value (code 20015), as a provider with a body limit would."""


def body_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """dict -> JSON object; str -> bare JSON string (as SiliconFlow's 401/504); bytes -> raw."""
    if isinstance(body, bytes):
        return Response(body, status_code=status, media_type="text/plain", headers=headers)
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class FakeSiliconFlow(FakeServer):
    """Knobs: `fail(status, body)`, `delay` (s), `malformed`, `no_images`, `result`,
    `result_status`, `download_delay` (s), `accept_urls` (False: like the English reference, only
    data URIs are taken; a URL is refused with 400). `peak_in_flight`: the most generation
    requests it held at once (reset it to 0 between measurements)."""

    def __init__(self) -> None:
        self.error: tuple[int, Any] | None = None
        self.delay = 0.0
        self.malformed = False
        self.no_images = False
        self.result: bytes = png_bytes(96, 64)
        self.result_status = 200
        self.download_delay = 0.0
        self.accept_urls = True
        self.payloads: list[dict[str, Any]] = []
        self.trace_ids: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
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
        self.in_flight += 1  # one event loop: no lock needed
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._generate(request)
        finally:
            self.in_flight -= 1

    async def _generate(self, request: Request) -> Response:
        trace = {"x-siliconcloud-trace-id": f"ti_fake{len(self.trace_ids) + 1:06d}"}
        self.trace_ids.append(trace["x-siliconcloud-trace-id"])
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return body_response(401, "Invalid token", trace)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return body_response(
                400, {"code": 20015, "message": "invalid JSON", "data": None}, trace
            )
        self.payloads.append(payload)
        if self.error is not None:
            return body_response(*self.error, trace)
        problem = self._validate(payload)
        if problem:
            body = {"code": problem[0], "message": problem[1], "data": None}
            return body_response(400, body, trace)
        if self.malformed:
            return Response(b'{"images": [{"url": ', media_type="application/json", headers=trace)
        if self.no_images:
            return JSONResponse(
                {"images": [], "timings": {"inference": 0.1}, "seed": 1}, headers=trace
            )
        return JSONResponse(
            {
                "images": [{"url": f"{self.url}/cdn/result-{len(self.payloads)}.png"}],
                "timings": {"inference": 1.25},
                "seed": payload.get("seed", 42),
            },
            headers=trace,
        )

    def _validate(self, payload: dict[str, Any]) -> tuple[int, str] | None:
        if payload.get("model") not in MODELS:
            return 20012, "Model does not exist. Please check it carefully."
        if not isinstance(payload.get("prompt"), str) or not payload["prompt"]:
            return 20015, "prompt is required"
        image = payload.get("image")
        if not isinstance(image, str) or not image.startswith(("data:image/", "http")):
            return 20015, "image must be a base64 data URI or a URL"
        if image.startswith("http") and not self.accept_urls:
            return 20015, "image must be a base64 data URI"
        if len(image) > MAX_IMAGE_CHARS:
            return 20015, "image too large"
        if "negative_prompt" in payload and not isinstance(payload["negative_prompt"], str):
            return 20015, "negative_prompt must be a string"
        allowed = {"model", "prompt", "negative_prompt", "image", "num_inference_steps", "cfg"}
        allowed |= {"seed", "image_size", "batch_size", "guidance_scale"}
        if payload.get("model") == "Qwen/Qwen-Image-Edit-2509":
            allowed |= {"image2", "image3"}
        unknown = set(payload) - allowed
        if unknown:
            return 20015, f"unknown fields {sorted(unknown)}"
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
