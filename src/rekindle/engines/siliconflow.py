"""SiliconFlow restoration engine: Qwen-Image-Edit through SiliconFlow's image generation API.

Protocol (https://docs.siliconflow.com/en/api-reference/images/images-generations and its
mirror https://docs.siliconflow.cn/cn/api-reference/images/images-generations):

    POST {SILICONFLOW_API_URL}            Authorization: Bearer {SILICONFLOW_API_KEY}
    {"model": "Qwen/Qwen-Image-Edit", "prompt": "...", "image": "<https URL or data URI>",
     "num_inference_steps": 20, "cfg": 4.0, "seed": 123}
    200 -> {"images": [{"url": "..."}], "timings": {"inference": 12.5}, "seed": 123}

The result URL is valid for one hour, so it is downloaded at once and decoded to make sure it is an
image. Where this differs from seed 001's sketch (`guidance_scale`, `image_size`), see
`docs/engines.md`. Errors: see `rekindle.engines.http.error_for_status`.
"""

from __future__ import annotations

import base64
import random
import time
from typing import Any, ClassVar

from rekindle.config import Settings
from rekindle.engines import http
from rekindle.engines.base import PROVIDER_BAD_RESULT, EngineResult, RestoreRequest

PROVIDER = "siliconflow"

DEFAULT_PROMPT = (
    "Restore this old damaged photo. Remove scratches, cracks, dust, stains and tears, fix fading "
    "and colour casts, reduce noise and blur, and enhance clarity while preserving the original "
    "faces, composition and details."
)
COLORIZE_PROMPT = "Colorize it with natural, realistic, period-appropriate colours."
KEEP_GRAIN_PROMPT = "Keep the natural film grain."
REMOVE_NOISE_PROMPT = "Remove film grain and noise thoroughly."
MAX_PROMPT_CHARS = 800
"""Seed 001: SiliconFlow accepts prompts of at most 800 characters."""

NUM_INFERENCE_STEPS = 20
"""`num_inference_steps`: the documented default (range 1-100)."""
CFG = 4.0
"""`cfg`: the documented guidance field for Qwen-Image models (0.1-20; the official configuration
uses 4.0). `guidance_scale` is documented for Kolors only, so it is not sent."""
MAX_SEED = 9_999_999_999
"""`seed` range documented: 0 <= seed <= 9999999999."""


def build_prompt(request: RestoreRequest) -> str:
    """The default restoration prompt, the colourise and denoise options, then the user's prompt.

    Cut to 800 characters; the user's text is what gets shortened.
    """
    parts = [DEFAULT_PROMPT]
    if request.colorize:
        parts.append(COLORIZE_PROMPT)
    if request.denoise <= 0.2:
        parts.append(KEEP_GRAIN_PROMPT)
    elif request.denoise >= 0.8:
        parts.append(REMOVE_NOISE_PROMPT)
    base = " ".join(parts)
    user = (request.prompt or "").strip()
    if not user:
        return base[:MAX_PROMPT_CHARS]
    room = MAX_PROMPT_CHARS - len(base) - 1
    return base + " " + user[: max(room, 0)] if room > 0 else base[:MAX_PROMPT_CHARS]


class SiliconFlowEngine:
    """Restores a photo with Qwen-Image-Edit on SiliconFlow. Thread-safe: one instance per process.

    Settings: SILICONFLOW_API_KEY, SILICONFLOW_API_URL, SILICONFLOW_MODEL, SILICONFLOW_TIMEOUT
    (seconds, per HTTP request: the generation call and the result download each),
    SILICONFLOW_MAX_IN_FLIGHT (concurrent calls per process).
    """

    name: ClassVar[str] = "siliconflow"
    wants_image_url: ClassVar[bool] = True
    """The worker passes a presigned URL when the store has one (S3), as seed 000 plans."""

    def __init__(
        self,
        *,
        api_key: str,
        api_url: str,
        model: str,
        timeout: float,
        max_in_flight: int,
    ) -> None:
        self.api_key = api_key
        self.api_url = api_url
        self.model = model
        self.timeout = timeout
        self.client = http.make_client(timeout=timeout, max_connections=max_in_flight)
        self.in_flight = http.InFlight(PROVIDER, max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> SiliconFlowEngine:
        return cls(
            api_key=settings.siliconflow_api_key or "",
            api_url=settings.siliconflow_api_url,
            model=settings.siliconflow_model,
            timeout=settings.siliconflow_timeout,
            max_in_flight=settings.siliconflow_max_in_flight,
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        """True when SILICONFLOW_API_KEY is set."""
        return bool(settings.siliconflow_api_key)

    def close(self) -> None:
        self.client.close()

    def build_payload(self, request: RestoreRequest, seed: int) -> dict[str, Any]:
        """The JSON body of the generation request (field names as documented)."""
        if request.image_url:
            image = request.image_url
        else:
            encoded = base64.b64encode(request.image).decode("ascii")
            image = f"data:{http.image_mime(request.image)};base64,{encoded}"
        return {
            "model": self.model,
            "prompt": build_prompt(request),
            "image": image,
            "num_inference_steps": NUM_INFERENCE_STEPS,
            "cfg": CFG,
            "seed": seed,
        }

    def supported_options(self) -> frozenset[str]:
        """Everything but a mask: options are folded into the edit prompt; the seed is sent."""
        return frozenset({"denoise", "colorize", "prompt", "seed"})

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Submit, wait for the answer (synchronous API), download the result at once.

        Raises EngineError: provider_auth_failed (401/403), provider_insufficient_balance,
        provider_busy (429, 503 overloaded, no free in-flight slot), provider_rejected_image (400),
        provider_timeout (no answer within SILICONFLOW_TIMEOUT seconds, 504),
        provider_unavailable (network error, 5xx), provider_bad_result (malformed JSON, no image URL,
        the download is not an image).
        """
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        payload = self.build_payload(request, seed)
        with self.in_flight.slot(self.timeout):
            started = time.monotonic()
            response = http.send(
                self.client,
                PROVIDER,
                "POST",
                self.api_url,
                json=payload,
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
            body = http.json_body(PROVIDER, response)
            url = _result_url(body)
            data, _ = http.download(self.client, PROVIDER, url, timeout=self.timeout)
            elapsed = time.monotonic() - started
        content_type = http.check_image(PROVIDER, data)
        timings = body.get("timings") if isinstance(body.get("timings"), dict) else {}
        inference = timings.get("inference") if timings else None
        params: dict[str, Any] = {
            "provider": PROVIDER,
            "prompt": payload["prompt"],
            "num_inference_steps": NUM_INFERENCE_STEPS,
            "guidance_scale": CFG,
            "guidance_field": "cfg",
            "seed": body.get("seed", seed) if isinstance(body.get("seed"), int) else seed,
            "inference_time_seconds": inference if isinstance(inference, int | float) else None,
            "elapsed_seconds": round(elapsed, 3),
            "image_input": "url" if request.image_url else "data_uri",
        }
        return EngineResult(data=data, content_type=content_type, model=self.model, params=params)


def _result_url(body: Any) -> str:
    """`images[0].url` (documented), or `data[0].url` (the OpenAI-compatible twin)."""
    if isinstance(body, dict):
        for key in ("images", "data"):
            items = body.get(key)
            if isinstance(items, list) and items and isinstance(items[0], dict):
                url = items[0].get("url")
                if isinstance(url, str) and url:
                    return url
    raise http.engine_error(PROVIDER_BAD_RESULT, f"{PROVIDER}: no image URL in {str(body)[:300]}")
