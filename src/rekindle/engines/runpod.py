"""RunPod restoration engine: the ComfyUI restore workflow on a RunPod serverless ComfyUI worker.

The endpoint runs runpod-workers/worker-comfyui (https://github.com/runpod-workers/worker-comfyui,
README "API specification" and `handler.py`). Its job input is

    {"workflow": <ComfyUI API-format graph>, "images": [{"name": "rekindle-<id>.jpg",
                                                           "image": "<base64>"}]}

the worker uploads each image into ComfyUI's input folder under `name`, runs the graph and answers
`{"images": [{"filename", "type": "base64" | "s3_url", "data"}]}` (`s3_url` when the worker has a
bucket configured). The graph is the same workflow the `comfyui` engine uses (`COMFYUI_WORKFLOW`
or the packaged `restore.json`), its `image` input bound to that name. The queue protocol
(`/run`, `/status`, `/cancel`, the 10 MB `/run` limit) is in `rekindle.engines.runpod_client`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, ClassVar

from rekindle.config import Settings
from rekindle.engines import http, runpod_client, workflows
from rekindle.engines.base import EngineResult, RestoreRequest
from rekindle.engines.comfyui import request_values, sent_params
from rekindle.engines.runpod_client import PROVIDER

PAYLOAD_MARGIN = 4096
"""Bytes of the `/run` budget kept free beyond the JSON envelope."""
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")


class RunPodEngine:
    """Restores a photo on a RunPod serverless ComfyUI worker. Thread-safe, shared per process.

    Settings: RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID, RUNPOD_API_BASE, RUNPOD_TIMEOUT (seconds for the
    whole job, cold start included; the job is cancelled past it), RUNPOD_POLL_INTERVAL (seconds),
    RUNPOD_MAX_IN_FLIGHT, COMFYUI_WORKFLOW (shared with the comfyui engine).
    """

    name: ClassVar[str] = "runpod"

    def __init__(
        self,
        *,
        client: runpod_client.RunPodClient,
        workflow: workflows.Workflow,
        timeout: float,
        max_in_flight: int,
    ) -> None:
        self.client = client
        self.workflow = workflow
        self.timeout = timeout
        self.in_flight = http.InFlight(PROVIDER, max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunPodEngine:
        return cls(
            client=runpod_client.RunPodClient.from_settings(settings, settings.runpod_endpoint_id),
            workflow=workflows.load(settings.comfyui_workflow, workflows.DEFAULT_RESTORE),
            timeout=settings.runpod_timeout,
            max_in_flight=settings.runpod_max_in_flight,
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        """True when RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID are set."""
        return bool(settings.runpod_api_key and settings.runpod_endpoint_id)

    @staticmethod
    def time_limit(settings: Settings) -> float:
        """The longest one restoration may take, seconds (RUNPOD_TIMEOUT, then the download's
        at least one second and the best-effort /cancel)."""
        return settings.runpod_timeout + 1 + runpod_client.CANCEL_TIMEOUT

    def close(self) -> None:
        self.client.close()

    def cancel_remote(self, ref: dict[str, Any]) -> bool:
        """`POST /cancel/{ref["job_id"]}` (the sweep, after the worker died). Never raises."""
        job_id = ref.get("job_id")
        return isinstance(job_id, str) and bool(job_id) and self.client.cancel(job_id)

    def supported_options(self) -> frozenset[str]:
        """The options the workflow declares inputs for (see `workflows.supported_options`)."""
        return workflows.supported_options(self.workflow)

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Submit the workflow as a job, poll it to a final state, decode or download the image.

        Raises EngineError: provider_rejected_image (job FAILED, 400, input too large even after
        re-encoding), provider_timeout (TIMED_OUT, or RUNPOD_TIMEOUT seconds passed: the job is
        cancelled), provider_unavailable (CANCELLED, network error, 5xx), provider_auth_failed
        (401/403), provider_busy (429), provider_bad_result (no or non-image output).
        """
        values = request_values(self.workflow, request)
        stem = f"rekindle-{uuid.uuid4().hex}"
        # A workflow with a `mask` input gets the user's mask as a second worker image.
        masks: list[dict[str, str]] = []
        if request.mask is not None and "mask" in self.workflow.inputs:
            values["mask"] = f"{stem}-mask.png"
            masks = [{"name": values["mask"], "image": base64.b64encode(request.mask).decode()}]
        sizing = self.workflow.bind({**values, "image": f"{stem}.jpeg"})
        envelope = len(
            json.dumps({"input": {"workflow": sizing, "images": [{"name": stem}, *masks]}})
        )
        budget = runpod_client.RUN_PAYLOAD_LIMIT - envelope - PAYLOAD_MARGIN
        image, reencoded = runpod_client.fit_jpeg(request.image, budget)
        name = f"{stem}.{http.image_mime(image).split('/')[1]}"
        graph = self.workflow.bind({**values, "image": name})
        job_input: dict[str, Any] = {
            "workflow": graph,
            "images": [{"name": name, "image": base64.b64encode(image).decode("ascii")}, *masks],
        }
        deadline = time.monotonic() + self.timeout
        with self.in_flight.slot(self.timeout):
            started = time.monotonic()
            result = self.client.run_and_wait(
                job_input, max(deadline - time.monotonic(), 0.001), request.on_submitted
            )
            files = runpod_client.output_files(PROVIDER, result.output)
            images = [f for f in files if not f["filename"].lower().endswith(VIDEO_SUFFIXES)]
            data = runpod_client.file_bytes(
                self.client.client,
                PROVIDER,
                (images or files)[0],
                max(deadline - time.monotonic(), 1.0),
            )
            elapsed = time.monotonic() - started
        content_type = http.check_image(PROVIDER, data)
        params = {
            "provider": PROVIDER,
            "endpoint_id": self.client.endpoint_id,
            "job_id": result.job_id,
            "workflow": self.workflow.name,
            **sent_params(self.workflow, values),
            "mask": bool(masks),
            "delay_ms": result.delay_ms,
            "execution_ms": result.execution_ms,
            "elapsed_seconds": round(elapsed, 3),
            "input_reencoded": reencoded,
        }
        return EngineResult(
            data=data,
            content_type=content_type,
            model=f"runpod/{self.workflow.name}",
            params=params,
        )
