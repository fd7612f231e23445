"""RunPodAnimationEngine against a local RunPod-protocol server returning real video files."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator

import av
import pytest
from PIL import Image

from rekindle.config import Settings
from rekindle.engines.animation.runpod import (
    RunPodAnimationEngine,
    faststart,
    frame_count,
    frame_size,
)
from rekindle.engines.base import AnimateRequest, EngineError
from tests.engines.fakes import FakeRunPod, jpeg_bytes, mp4_bytes, webm_bytes
from tests.engines.fakes.runpod import API_KEY

STILL = jpeg_bytes(120, 90)


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod() as server:
        server.result = mp4_bytes(64, 48, frames=17, fps=16)
        server.result_name = "rekindle/animate_00001_.mp4"
        yield server


def make_engine(fake: FakeRunPod, *, timeout: float = 5.0) -> RunPodAnimationEngine:
    settings = Settings(
        _env_file=None,
        runpod_api_key=API_KEY,
        runpod_animation_endpoint_id="ep-animate",
        runpod_api_base=fake.api_base,
        runpod_timeout=timeout,
        runpod_poll_interval=0.05,
    )
    return RunPodAnimationEngine.from_settings(settings)


def job_input(fake: FakeRunPod) -> dict:
    return json.loads(fake.find("POST", "/v2/ep-animate/run")[0].body)["input"]


def test_is_configured_needs_key_and_animation_endpoint() -> None:
    assert not RunPodAnimationEngine.is_configured(
        Settings(_env_file=None, runpod_api_key="k", runpod_endpoint_id="e")
    )
    assert RunPodAnimationEngine.is_configured(
        Settings(_env_file=None, runpod_api_key="k", runpod_animation_endpoint_id="a")
    )


def test_success(fake: FakeRunPod) -> None:
    result = make_engine(fake).animate(AnimateRequest(image=STILL, duration_seconds=5.0, seed=9))

    assert result.video == fake.result
    assert (result.width, result.height) == (64, 48)
    assert result.fps == pytest.approx(16)
    assert result.duration_seconds == pytest.approx(17 / 16, abs=0.01)
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (64, 48)
    assert result.model == "runpod/animate"
    sent = job_input(fake)
    graph = sent["workflow"]
    assert base64.b64decode(sent["images"][0]["image"]) == STILL
    assert graph["1"]["inputs"]["image"] == sent["images"][0]["name"]
    assert (graph["9"]["inputs"]["width"], graph["9"]["inputs"]["height"]) == (640, 480)
    assert graph["9"]["inputs"]["length"] == 81
    assert graph["10"]["inputs"]["seed"] == 9
    assert graph["12"]["inputs"]["fps"] == 16.0
    assert result.params["transcoded"] is False and result.params["hd"] is False
    assert fake.count("POST", "/v2/ep-animate/cancel/") == 0


def test_hd_asks_for_720p() -> None:
    assert frame_size(STILL, 720) == (960, 720)
    assert frame_size(jpeg_bytes(90, 120), 480) == (480, 640)
    assert frame_count(5.0) == 81 and (frame_count(2.0) - 1) % 4 == 0


def test_non_h264_output_is_transcoded(fake: FakeRunPod) -> None:
    fake.result = webm_bytes(64, 48, frames=9)
    fake.result_name = "animate_00001_.webm"
    result = make_engine(fake).animate(AnimateRequest(image=STILL, hd=True))
    assert result.params["transcoded"] is True
    with av.open(io.BytesIO(result.video), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
    assert job_input(fake)["workflow"]["9"]["inputs"]["height"] == 720


def test_failed_job(fake: FakeRunPod) -> None:
    fake.final = "FAILED"
    fake.error_text = "CUDA out of memory"
    with pytest.raises(EngineError) as info:
        make_engine(fake).animate(AnimateRequest(image=STILL))
    assert info.value.code == "provider_rejected_image"
    assert "FAILED: CUDA out of memory" in (info.value.detail or "")


def test_timed_out_job(fake: FakeRunPod) -> None:
    fake.final = "TIMED_OUT"
    with pytest.raises(EngineError) as info:
        make_engine(fake).animate(AnimateRequest(image=STILL))
    assert info.value.code == "provider_timeout"


def test_our_time_limit_cancels_the_job(fake: FakeRunPod) -> None:
    fake.hang = True
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        make_engine(fake, timeout=0.5).animate(AnimateRequest(image=STILL))
    assert info.value.code == "provider_timeout"
    assert time.monotonic() - started < 2.0
    (job_id,) = fake.jobs
    assert fake.cancelled == [job_id]
    assert fake.count("POST", f"/v2/ep-animate/cancel/{job_id}") == 1


def test_output_that_is_not_a_video(fake: FakeRunPod) -> None:
    fake.result = b"definitely not a video"
    with pytest.raises(EngineError) as info:
        make_engine(fake).animate(AnimateRequest(image=STILL))
    assert info.value.code == "provider_bad_result"


def test_mp4_without_faststart_is_rewritten(fake: FakeRunPod) -> None:
    fake.result = mp4_bytes(64, 48, frames=9, faststart=False)
    result = make_engine(fake).animate(AnimateRequest(image=STILL))
    assert result.params["transcoded"] is True
    assert faststart(result.video) and not faststart(fake.result)
