"""RunPod animation engine: an image-to-video ComfyUI workflow on a RunPod serverless worker.

Same queue protocol as the restoration engine (`rekindle.engines.runpod_client`: `/run`,
`/status` until COMPLETED/FAILED/CANCELLED/TIMED_OUT, `/cancel` past our time limit) on its own
endpoint (`RUNPOD_ANIMATION_ENDPOINT_ID`), and the same worker-comfyui input
`{"workflow", "images": [{"name", "image"}]}`. The workflow (packaged `animate.json`: Wan 2.1
image-to-video with ComfyUI's core CreateVideo/SaveVideo nodes, or `RUNPOD_ANIMATION_WORKFLOW`) has
the named inputs image, prompt, width, height, length (frames), fps and seed. worker-comfyui returns
every saved file of the graph under `images` (SaveVideo reports its MP4 there), as base64 or an
S3 URL.

The clip is checked with PyAV: it must decode; when it is not already H.264/yuv420p in MP4 it is
re-encoded so that browsers play it (faststart). The thumbnail is the first frame, as JPEG.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import struct
import tempfile
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import av
from PIL import Image

from rekindle.config import Settings
from rekindle.engines import http, runpod_client, workflows
from rekindle.engines.base import (
    PROVIDER_BAD_IMAGE,
    PROVIDER_BAD_RESULT,
    AnimateRequest,
    AnimationResult,
)
from rekindle.engines.runpod_client import PROVIDER

FPS = 16
"""Frames per second of the packaged workflow (Wan 2.1's native rate)."""
PREVIEW_SHORT_SIDE = 480
HD_SHORT_SIDE = 720
"""Short side of the HD clip, pixels: Wan 2.1 I2V's best (720p)."""
MAX_SEED = 2**32 - 1
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif", ".webp")
PAYLOAD_MARGIN = 4096


@dataclass(frozen=True)
class Clip:
    """What PyAV found in a video: size (pixels), fps, duration (seconds), codec, first frame."""

    width: int
    height: int
    fps: float
    duration_seconds: float
    codec: str
    pix_fmt: str
    container: str
    frames: int
    first_frame: Image.Image


def frame_size(image: bytes, short_side: int) -> tuple[int, int]:
    """(width, height) keeping the still's aspect, short side `short_side`, multiples of 16."""
    try:
        with Image.open(io.BytesIO(image)) as img:
            width, height = img.size
    except (OSError, ValueError) as exc:
        raise http.engine_error(PROVIDER_BAD_IMAGE, f"cannot read the still: {exc}") from exc
    scale = short_side / min(width, height)
    return (
        max(16, round(width * scale / 16) * 16),
        max(16, round(height * scale / 16) * 16),
    )


def frame_count(duration_seconds: float, fps: int = FPS) -> int:
    """Frames for `duration_seconds`, as Wan needs them: 4k + 1."""
    return 4 * max(1, round(duration_seconds * fps / 4)) + 1


def probe(video: bytes) -> Clip:
    """Decode `video` fully with PyAV. Raises EngineError(provider_bad_result) when it does not."""
    try:
        with av.open(io.BytesIO(video), mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            first: Image.Image | None = None
            frames = 0
            for frame in container.decode(stream):
                if first is None:
                    first = frame.to_image()
                frames += 1
            if first is None:
                raise ValueError("no frames")
            rate = stream.average_rate or stream.guessed_rate or Fraction(FPS)
            fps = float(rate)
            duration = frames / fps if fps else 0.0
            return Clip(
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=fps,
                duration_seconds=duration,
                codec=stream.codec_context.name,
                pix_fmt=str(stream.codec_context.pix_fmt),
                container=container.format.name,
                frames=frames,
                first_frame=first,
            )
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise http.engine_error(
            PROVIDER_BAD_RESULT, f"{PROVIDER}: result is not a playable video: {exc}"
        ) from exc


def browser_ready(clip: Clip, video: bytes) -> bool:
    """H.264, yuv420p, in MP4, with the `moov` box before `mdat` (faststart)."""
    return (
        clip.codec == "h264"
        and clip.pix_fmt == "yuv420p"
        and "mp4" in clip.container
        and faststart(video)
    )


def faststart(video: bytes) -> bool:
    """Whether the MP4's top-level `moov` box comes before its `mdat` box."""
    offset = 0
    order: list[str] = []
    while offset + 8 <= len(video) and len(order) < 64:
        size = struct.unpack(">I", video[offset : offset + 4])[0]
        kind = video[offset + 4 : offset + 8].decode("latin-1")
        if size == 1 and offset + 16 <= len(video):
            size = struct.unpack(">Q", video[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(video) - offset
        order.append(kind)
        if size < 8:
            break
        offset += size
    return "moov" in order and ("mdat" not in order or order.index("moov") < order.index("mdat"))


def transcode_h264(video: bytes, fps: float) -> bytes:
    """Re-encode to H.264 yuv420p MP4 with faststart (even width and height).

    Written through a temporary file: the faststart pass rewrites the file by name.
    """
    with tempfile.TemporaryDirectory(prefix="rekindle-") as folder:
        target = os.path.join(folder, "clip.mp4")
        with (
            av.open(io.BytesIO(video), mode="r") as src,
            av.open(target, "w", format="mp4", options={"movflags": "+faststart"}) as dst,
        ):
            in_stream = src.streams.video[0]
            width = in_stream.codec_context.width // 2 * 2
            height = in_stream.codec_context.height // 2 * 2
            rate = Fraction(fps).limit_denominator(1001)
            stream = dst.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for frame in src.decode(in_stream):
                frame = frame.reformat(width=width, height=height, format="yuv420p")
                frame.pts = None
                for packet in stream.encode(frame):
                    dst.mux(packet)
            for packet in stream.encode():
                dst.mux(packet)
        with open(target, "rb") as handle:
            return handle.read()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class RunPodAnimationEngine:
    """Animates a still on a RunPod serverless ComfyUI worker. Thread-safe, shared per process.

    Settings: RUNPOD_API_KEY, RUNPOD_ANIMATION_ENDPOINT_ID, RUNPOD_API_BASE, RUNPOD_TIMEOUT (seconds
    for the whole job; cancelled past it), RUNPOD_POLL_INTERVAL, RUNPOD_MAX_IN_FLIGHT,
    RUNPOD_ANIMATION_WORKFLOW.
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
        self.in_flight = http.InFlight(f"{PROVIDER}-animation", max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunPodAnimationEngine:
        return cls(
            client=runpod_client.RunPodClient.from_settings(
                settings, settings.runpod_animation_endpoint_id
            ),
            workflow=workflows.load(settings.runpod_animation_workflow, "animate.json"),
            timeout=settings.runpod_timeout,
            max_in_flight=settings.runpod_max_in_flight,
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        """True when RUNPOD_API_KEY and RUNPOD_ANIMATION_ENDPOINT_ID are set."""
        return bool(settings.runpod_api_key and settings.runpod_animation_endpoint_id)

    def close(self) -> None:
        self.client.close()

    def animate(self, request: AnimateRequest) -> AnimationResult:
        """Run the image-to-video workflow; return a browser-ready MP4 and a first-frame thumbnail.

        Raises EngineError: provider_rejected_image (job FAILED, unreadable still),
        provider_timeout (TIMED_OUT or RUNPOD_TIMEOUT seconds passed: the job is cancelled),
        provider_unavailable (CANCELLED, network, 5xx), provider_auth_failed, provider_busy,
        provider_bad_result (no video in the output, or one that does not decode).
        """
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        width, height = frame_size(
            request.image, HD_SHORT_SIDE if request.hd else PREVIEW_SHORT_SIDE
        )
        length = frame_count(request.duration_seconds)
        values: dict[str, Any] = {
            "width": width,
            "height": height,
            "length": length,
            "fps": float(FPS),
            "seed": seed,
        }
        stem = f"rekindle-{uuid.uuid4().hex}"
        sizing = self.workflow.bind({**values, "image": f"{stem}.jpeg"})
        envelope = len(json.dumps({"input": {"workflow": sizing, "images": [{"name": stem}]}}))
        image, reencoded = runpod_client.fit_jpeg(
            request.image, runpod_client.RUN_PAYLOAD_LIMIT - envelope - PAYLOAD_MARGIN
        )
        name = f"{stem}.{http.image_mime(image).split('/')[1]}"
        job_input = {
            "workflow": self.workflow.bind({**values, "image": name}),
            "images": [{"name": name, "image": base64.b64encode(image).decode("ascii")}],
        }
        deadline = time.monotonic() + self.timeout
        with self.in_flight.slot(self.timeout):
            started = time.monotonic()
            result = self.client.run_and_wait(job_input, max(deadline - time.monotonic(), 0.001))
            files = runpod_client.output_files(PROVIDER, result.output)
            videos = [f for f in files if f["filename"].lower().endswith(VIDEO_SUFFIXES)]
            video = runpod_client.file_bytes(
                self.client.client,
                PROVIDER,
                (videos or files)[0],
                max(deadline - time.monotonic(), 1.0),
            )
            elapsed = time.monotonic() - started
        clip = probe(video)
        transcoded = not browser_ready(clip, video)
        if transcoded:
            video = transcode_h264(video, clip.fps)
            clip = probe(video)
        params = {
            "provider": PROVIDER,
            "endpoint_id": self.client.endpoint_id,
            "job_id": result.job_id,
            "workflow": self.workflow.name,
            "seed": seed,
            "hd": request.hd,
            "requested": {"width": width, "height": height, "length": length, "fps": FPS},
            "frames": clip.frames,
            "delay_ms": result.delay_ms,
            "execution_ms": result.execution_ms,
            "elapsed_seconds": round(elapsed, 3),
            "transcoded": transcoded,
            "input_reencoded": reencoded,
        }
        return AnimationResult(
            video=video,
            thumbnail=jpeg(clip.first_frame),
            width=clip.width,
            height=clip.height,
            fps=clip.fps,
            duration_seconds=round(clip.duration_seconds, 3),
            model=f"runpod/{self.workflow.name}",
            params=params,
        )
