"""SiliconFlow restoration engine: Qwen-Image-Edit through SiliconFlow's image generation API.

Protocol (https://docs.siliconflow.com/en/api-reference/images/images-generations and its
mirror https://docs.siliconflow.cn/cn/api-reference/images/images-generations):

    POST {SILICONFLOW_API_URL}            Authorization: Bearer {SILICONFLOW_API_KEY}
    {"model": "Qwen/Qwen-Image-Edit", "prompt": "...", "negative_prompt": "...",
     "image": "data:image/jpeg;base64,...", "num_inference_steps": 20, "cfg": 4.0, "seed": 123}
    200 -> {"images": [{"url": "..."}], "timings": {"inference": 12.5}, "seed": 123}
    response header x-siliconcloud-trace-id: the request's trace id (kept in the attempt params)

The English reference (on api.siliconflow.com, our default host) documents the image as a base64
data URI; only the Chinese mirror says a URL works, so a URL is sent only when the operator sets
SILICONFLOW_IMAGE_INPUT=url (see `engines.startup` for the check on the signed host).

The result URL is valid for one hour, so it is downloaded at once and decoded to make sure it is an
image. Where this differs from seed 001's sketch (`guidance_scale`, `image_size`), see
`docs/engines.md`. Errors: see `rekindle.engines.http.error_for_status`.
"""

from __future__ import annotations

import base64
import random
import time
from typing import Any, ClassVar

import httpx

from rekindle.config import Settings
from rekindle.engines import http
from rekindle.engines.base import PROVIDER_BAD_RESULT, EngineError, EngineResult, RestoreRequest
from rekindle.engines.runpod_client import fit_jpeg

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


MODEL_FIELDS: dict[str, frozenset[str]] = {
    "Qwen/Qwen-Image-Edit": frozenset(
        {"model", "prompt", "negative_prompt", "image", "num_inference_steps", "cfg", "seed"}
    ),
    "Qwen/Qwen-Image-Edit-2509": frozenset(
        {"model", "prompt", "negative_prompt", "image", "num_inference_steps", "cfg", "seed"}
    ),
}
"""The request fields each supported model takes, per the images/generations reference: both edit
models take `prompt`, `negative_prompt`, `image`, `num_inference_steps` (1-100), `cfg` (0.1-20)
and `seed`; neither takes `image_size` or `batch_size` (Kolors only), nor `guidance_scale`.
2509 also takes `image2`/`image3` (multi-image editing), which a restoration does not use. A model
not listed gets these same fields; one SiliconFlow does not have answers code 20012, which is
`provider_config_error` ("Service configuration error")."""

TRACE_HEADER = "x-siliconcloud-trace-id"
"""Response header documented as the request's unique trace id; support asks for it."""


class SiliconFlowEngine:
    """Restores a photo with Qwen-Image-Edit on SiliconFlow. Thread-safe: one instance per process.

    Settings: SILICONFLOW_API_KEY, SILICONFLOW_API_URL, SILICONFLOW_MODEL, SILICONFLOW_TIMEOUT
    (seconds, per HTTP request: the generation call and the result download each),
    SILICONFLOW_MAX_IN_FLIGHT (concurrent calls per process), SILICONFLOW_IMAGE_INPUT (`base64`
    or `url`), SILICONFLOW_MAX_IMAGE_BYTES, SILICONFLOW_NEGATIVE_PROMPT.
    """

    name: ClassVar[str] = "siliconflow"

    def __init__(
        self,
        *,
        api_key: str,
        api_url: str,
        model: str,
        timeout: float,
        max_in_flight: int,
        image_input: str = "base64",
        max_image_bytes: int = 10_000_000,
        negative_prompt: str = "",
    ) -> None:
        self.api_key = api_key
        self.api_url = api_url
        self.model = model
        self.timeout = timeout
        self.image_input = image_input
        self.max_image_bytes = max_image_bytes
        self.negative_prompt = negative_prompt
        self.wants_image_url = image_input == "url"
        """Only in URL mode does the worker pass a presigned URL (`RestoreRequest.image_url`)."""
        self.clients = http.ThreadClients(timeout=timeout)
        self.in_flight = http.InFlight(PROVIDER, max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> SiliconFlowEngine:
        return cls(
            api_key=settings.siliconflow_api_key or "",
            api_url=settings.siliconflow_api_url,
            model=settings.siliconflow_model,
            timeout=settings.siliconflow_timeout,
            max_in_flight=settings.siliconflow_max_in_flight,
            image_input=settings.siliconflow_image_input,
            max_image_bytes=settings.siliconflow_max_image_bytes,
            negative_prompt=settings.siliconflow_negative_prompt,
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        """True when SILICONFLOW_API_KEY is set."""
        return bool(settings.siliconflow_api_key)

    @staticmethod
    def time_limit(settings: Settings) -> float:
        """The longest one restoration may take, seconds: the generation call and the download."""
        return 2 * settings.siliconflow_timeout

    def close(self) -> None:
        self.clients.close()

    def build_payload(self, request: RestoreRequest, seed: int) -> tuple[dict[str, Any], bool]:
        """(the JSON body of the generation request, whether the image was re-encoded to fit).

        The image goes as a base64 data URI (the English reference's documented form), kept
        within SILICONFLOW_MAX_IMAGE_BYTES by re-encoding; as the presigned URL only in URL mode.
        """
        reencoded = False
        if self.image_input == "url" and request.image_url:
            image = request.image_url
        else:
            prefix_room = len("data:image/jpeg;base64,")
            data, reencoded = fit_jpeg(request.image, self.max_image_bytes - prefix_room)
            encoded = base64.b64encode(data).decode("ascii")
            image = f"data:{http.image_mime(data)};base64,{encoded}"
        payload: dict[str, Any] = {
            "model": self.model,
            "prompt": build_prompt(request),
            "negative_prompt": self.negative_prompt,
            "image": image,
            "num_inference_steps": NUM_INFERENCE_STEPS,
            "cfg": CFG,
            "seed": seed,
        }
        fields = MODEL_FIELDS.get(self.model, MODEL_FIELDS["Qwen/Qwen-Image-Edit"])
        payload = {k: v for k, v in payload.items() if k in fields and v not in ("", None)}
        return payload, reencoded

    def supported_options(self) -> frozenset[str]:
        """Everything but a mask: options are folded into the edit prompt; the seed is sent."""
        return frozenset({"denoise", "colorize", "prompt", "seed"})

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Submit, wait for the answer (synchronous API), download the result at once.

        Raises EngineError: provider_auth_failed (401/403), provider_insufficient_balance,
        provider_config_error (model does not exist, code 20012), provider_busy (429, 503
        overloaded, no free in-flight slot), provider_rejected_image (400),
        provider_timeout (no answer within SILICONFLOW_TIMEOUT seconds, 504),
        provider_unavailable (network error, 5xx), provider_bad_result (malformed JSON, no image URL,
        the download is not an image). The error's `params` carry `trace_id` (when SiliconFlow
        answered) and `possibly_billed` (our timeout passed while SiliconFlow may still be
        generating: it may bill the image) or `billed` (the image was generated, then lost).
        """
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        payload, reencoded = self.build_payload(request, seed)
        trace: dict[str, Any] = {"provider": PROVIDER, "model": self.model}
        with self.in_flight.slot(self.timeout):
            started = time.monotonic()
            response = self._generate(payload, trace)
            try:
                body = http.json_body(PROVIDER, response)
                url = _result_url(body)
                data, _ = http.download(self.clients.get(), PROVIDER, url, timeout=self.timeout)
                content_type = http.check_image(PROVIDER, data)
            except EngineError as exc:
                exc.params.update({**trace, "billed": True})
                raise
            elapsed = time.monotonic() - started
        timings = body.get("timings") if isinstance(body.get("timings"), dict) else {}
        inference = timings.get("inference") if timings else None
        params: dict[str, Any] = {
            "provider": PROVIDER,
            "trace_id": trace.get("trace_id"),
            "prompt": payload["prompt"],
            "negative_prompt": payload.get("negative_prompt"),
            "num_inference_steps": NUM_INFERENCE_STEPS,
            "guidance_scale": CFG,
            "guidance_field": "cfg",
            "seed": body.get("seed", seed) if isinstance(body.get("seed"), int) else seed,
            "inference_time_seconds": inference if isinstance(inference, int | float) else None,
            "elapsed_seconds": round(elapsed, 3),
            "image_input": "url" if payload["image"].startswith("http") else "data_uri",
            "input_reencoded": reencoded,
        }
        return EngineResult(data=data, content_type=content_type, model=self.model, params=params)

    def _generate(self, payload: dict[str, Any], trace: dict[str, Any]) -> httpx.Response:
        """POST the generation request; the trace id goes into `trace`. Raises EngineError."""
        try:
            response = http.request(
                self.clients.get(),
                "POST",
                self.api_url,
                json=payload,
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        except httpx.HTTPError as exc:
            error = http.error_for_transport(PROVIDER, exc)
            if isinstance(exc, httpx.TimeoutException) and not isinstance(
                exc, httpx.ConnectTimeout | httpx.PoolTimeout
            ):
                # The request reached SiliconFlow: it may still generate (and bill) the image.
                error.params.update({**trace, "possibly_billed": True})
                error.detail = (error.detail or "") + (
                    "; the request was sent, SiliconFlow may still generate and bill it"
                )
            raise error from exc
        if response.headers.get(TRACE_HEADER):
            trace["trace_id"] = response.headers[TRACE_HEADER]
        if response.is_error:
            error = http.error_for_status(PROVIDER, response)
            error.params.update(trace)
            if "trace_id" in trace:
                error.detail = (error.detail or "") + f" (trace id {trace['trace_id']})"
            raise error
        return response


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
