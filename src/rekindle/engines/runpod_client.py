"""RunPod serverless queue protocol, shared by the RunPod restoration and animation engines.

Protocol (https://docs.runpod.io/serverless/endpoints/operation-reference,
https://docs.runpod.io/serverless/endpoints/job-states):

    POST {RUNPOD_API_BASE}/{endpoint_id}/run         {"input": {...}}  -> {"id", "status": "IN_QUEUE"}
    GET  {RUNPOD_API_BASE}/{endpoint_id}/status/{id}  -> {"id", "status", "delayTime",
                                                          "executionTime", "output" | "error"}
    POST {RUNPOD_API_BASE}/{endpoint_id}/cancel/{id}  -> {"id", "status": "CANCELLED"}

Header `Authorization: Bearer {RUNPOD_API_KEY}`. States: IN_QUEUE, IN_PROGRESS (RUNNING), and the
final COMPLETED, FAILED, CANCELLED, TIMED_OUT. `/run` accepts at most 10 MB of payload (`/runsync`
20 MB); results of `/run` stay 30 minutes. We poll `/status` every RUNPOD_POLL_INTERVAL seconds until
a final state, and `/cancel` the job when our own time limit passes.

Worker output (runpod-workers/worker-comfyui, `handler.py`, 5.x):
`{"images": [{"filename", "type": "base64" | "s3_url", "data"}]}`; its 4.x and earlier answered
`{"message": "<base64 or URL>", "status": "success"}`. `output_files` reads both.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image

from rekindle.config import Settings
from rekindle.engines import http
from rekindle.engines.base import (
    PROVIDER_BAD_IMAGE,
    PROVIDER_BAD_RESULT,
    PROVIDER_TIMEOUT,
    PROVIDER_UNAVAILABLE,
    EngineError,
)

PROVIDER = "runpod"
log = logging.getLogger(__name__)

RUN_PAYLOAD_LIMIT = 10 * 1000 * 1000
"""Largest `/run` request body, bytes: RunPod documents "10 MB" (we read it as decimal, the safe
reading)."""
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
CANCEL_TIMEOUT = 5.0
"""Seconds allowed to the best-effort `/cancel` request."""


@dataclass(frozen=True)
class JobResult:
    """A COMPLETED job: its id, `output`, and RunPod's timings (milliseconds)."""

    job_id: str
    output: Any
    delay_ms: int | None
    execution_ms: int | None


class RunPodClient:
    """Submit a job to one serverless endpoint and follow it to a final state. Thread-safe.

    `request_timeout`: seconds for each HTTP request; `poll_interval`: seconds between `/status`
    calls; `max_connections`: connection pool size.
    """

    def __init__(
        self,
        *,
        provider: str,
        api_key: str,
        endpoint_id: str,
        api_base: str,
        poll_interval: float,
        request_timeout: float,
        max_connections: int,
    ) -> None:
        self.provider = provider
        self.endpoint_id = endpoint_id
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout
        self.base = f"{api_base.rstrip('/')}/{endpoint_id}"
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self.client = http.make_client(timeout=request_timeout, max_connections=max_connections)

    @classmethod
    def from_settings(cls, settings: Settings, endpoint_id: str | None) -> RunPodClient:
        """A client for `endpoint_id` with the RUNPOD_* settings (key, API base, polling)."""
        return cls(
            provider=PROVIDER,
            api_key=settings.runpod_api_key or "",
            endpoint_id=endpoint_id or "",
            api_base=settings.runpod_api_base,
            poll_interval=settings.runpod_poll_interval,
            request_timeout=min(settings.runpod_timeout, 60.0),
            max_connections=settings.runpod_max_in_flight,
        )

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, timeout: float, **kwargs: Any) -> dict[str, Any]:
        headers = kwargs.pop("headers", self._auth)
        response = http.send(
            self.client,
            self.provider,
            method,
            f"{self.base}{path}",
            headers=headers,
            timeout=min(timeout, self.request_timeout),
            **kwargs,
        )
        body = http.json_body(self.provider, response)
        if not isinstance(body, dict):
            raise http.engine_error(
                PROVIDER_BAD_RESULT, f"{self.provider}: unexpected answer {str(body)[:200]}"
            )
        return body

    def run(self, job_input: dict[str, Any], timeout: float) -> str:
        """POST /run; the job id. A body over 10 MB raises provider_rejected_image unsent."""
        content = json.dumps({"input": job_input}, separators=(",", ":")).encode()
        if len(content) > RUN_PAYLOAD_LIMIT:
            raise http.engine_error(
                PROVIDER_BAD_IMAGE,
                f"{self.provider}: /run payload {len(content)} bytes > {RUN_PAYLOAD_LIMIT}",
            )
        body = self._call(
            "POST",
            "/run",
            timeout,
            content=content,
            headers={**self._auth, "Content-Type": "application/json"},
        )
        job_id = body.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise http.engine_error(
                PROVIDER_BAD_RESULT, f"{self.provider}: /run gave no job id: {str(body)[:200]}"
            )
        return job_id

    def status(self, job_id: str, timeout: float) -> dict[str, Any]:
        """GET /status/{id}."""
        return self._call("GET", f"/status/{job_id}", timeout)

    def cancel(self, job_id: str) -> bool:
        """POST /cancel/{id}, best effort: True when RunPod accepted it. Never raises."""
        try:
            self._call("POST", f"/cancel/{job_id}", CANCEL_TIMEOUT)
            return True
        except EngineError as exc:
            log.warning("%s: could not cancel job %s: %s", self.provider, job_id, exc)
            return False

    def run_and_wait(
        self,
        job_input: dict[str, Any],
        time_limit: float,
        on_submitted: Callable[[dict[str, Any]], None] | None = None,
    ) -> JobResult:
        """Submit and poll until a final state, at most `time_limit` seconds; then /cancel.
        `on_submitted` is told `{"job_id": ...}` once RunPod has queued the job.

        Raises EngineError: FAILED -> provider_rejected_image (the worker's `error` as detail),
        TIMED_OUT or our time limit -> provider_timeout, CANCELLED -> provider_unavailable, plus
        the HTTP mapping of `rekindle.engines.http`.
        """
        deadline = time.monotonic() + time_limit
        job_id = self.run(job_input, time_limit)
        if on_submitted is not None:
            on_submitted({"job_id": job_id})
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.cancel(job_id)
                raise http.engine_error(
                    PROVIDER_TIMEOUT,
                    f"{self.provider}: job {job_id} not finished in {time_limit}s; cancelled",
                )
            try:
                body = self.status(job_id, remaining)
            except EngineError:
                # We stop following the job (fail fast), so it must not go on running and billing.
                self.cancel(job_id)
                raise
            state = str(body.get("status", ""))
            if state in FINAL_STATES:
                return self._final(job_id, state, body)
            time.sleep(max(min(self.poll_interval, deadline - time.monotonic()), 0.0))

    def _final(self, job_id: str, state: str, body: dict[str, Any]) -> JobResult:
        output = body.get("output")
        details = output.get("details") if isinstance(output, dict) else None
        if state == "COMPLETED":
            if isinstance(output, dict) and output.get("error"):
                raise http.engine_error(
                    PROVIDER_BAD_IMAGE, self._detail(job_id, "error", output["error"], details)
                )
            return JobResult(
                job_id=job_id,
                output=output,
                delay_ms=_int(body.get("delayTime")),
                execution_ms=_int(body.get("executionTime")),
            )
        # runpod-python moves a handler's `error` to the top and keeps the rest (worker-comfyui's
        # `details`: which node failed, and why) as `output`.
        detail = self._detail(job_id, state, body.get("error"), details)
        if state == "TIMED_OUT":
            raise http.engine_error(PROVIDER_TIMEOUT, detail)
        if state == "CANCELLED":
            raise http.engine_error(PROVIDER_UNAVAILABLE, detail)
        raise http.engine_error(PROVIDER_BAD_IMAGE, detail)

    def _detail(self, job_id: str, what: str, error: Any, details: Any) -> str:
        """The attempt's detail: the job, how it ended, the worker's error and its details."""
        return (
            f"{self.provider}: job {job_id} {what}"
            + (f": {error}" if error else "")
            + (f" {details}" if details else "")
        )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def output_files(provider: str, output: Any) -> list[dict[str, str]]:
    """The worker's output files as `{"filename", "type", "data"}` (5.x and legacy formats)."""
    if isinstance(output, dict):
        items = output.get("images")
        if isinstance(items, list):
            files = [
                {
                    "filename": str(item.get("filename", "")),
                    "type": str(item.get("type", "base64")),
                    "data": item["data"],
                }
                for item in items
                if isinstance(item, dict) and isinstance(item.get("data"), str)
            ]
            if files:
                return files
        message = output.get("message")
        if isinstance(message, str) and message:
            kind = "s3_url" if message.startswith(("http://", "https://")) else "base64"
            return [{"filename": "", "type": kind, "data": message}]
    raise http.engine_error(
        PROVIDER_BAD_RESULT, f"{provider}: no files in output {str(output)[:300]}"
    )


def file_bytes(client: httpx.Client, provider: str, item: dict[str, str], timeout: float) -> bytes:
    """Decode a base64 file (data URI prefix allowed) or download a URL one. Raises EngineError."""
    data = item["data"]
    if item.get("type") == "s3_url" or data.startswith(("http://", "https://")):
        content, _ = http.download(client, provider, data, timeout=timeout)
        return content
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise http.engine_error(PROVIDER_BAD_RESULT, f"{provider}: bad base64 output") from exc


def fit_jpeg(image: bytes, budget: int) -> tuple[bytes, bool]:
    """`image`, or a smaller JPEG re-encoding whose base64 fits `budget` bytes; (bytes, changed).

    Lowers the quality (90, 80, 70), then the size by 20 % steps. Raises EngineError
    (provider_rejected_image) when even a small version would not fit.
    """
    if _b64_len(len(image)) <= budget:
        return image, False
    try:
        with Image.open(io.BytesIO(image)) as opened:
            img = opened.convert("RGB")
    except (OSError, ValueError) as exc:
        raise http.engine_error(PROVIDER_BAD_IMAGE, f"cannot re-encode input: {exc}") from exc
    for _ in range(12):
        for quality in (90, 80, 70):
            buffer = io.BytesIO()
            img.save(buffer, format="JPEG", quality=quality)
            if _b64_len(buffer.tell()) <= budget:
                return buffer.getvalue(), True
        if min(img.size) < 64:
            break
        img = img.resize((int(img.width * 0.8), int(img.height * 0.8)), Image.Resampling.LANCZOS)
    raise http.engine_error(
        PROVIDER_BAD_IMAGE, "input does not fit the provider's payload limit even re-encoded"
    )


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)
