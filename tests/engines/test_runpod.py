"""RunPodEngine against a local server speaking RunPod's serverless queue protocol."""

from __future__ import annotations

import base64
import io
import json
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from rekindle.config import Settings
from rekindle.engines import runpod_client
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.runpod import RunPodEngine
from tests.engines.fakes import FakeRunPod, jpeg_bytes, png_bytes
from tests.engines.fakes.runpod import API_KEY

IMAGE = jpeg_bytes(64, 48)


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod() as server:
        yield server


def make_engine(
    fake_or_base: FakeRunPod | str,
    *,
    timeout: float = 5.0,
    key: str = API_KEY,
    endpoint: str = "ep-restore",
    workflow: Path | None = None,
) -> RunPodEngine:
    base = fake_or_base if isinstance(fake_or_base, str) else fake_or_base.api_base
    settings = Settings(
        _env_file=None,
        runpod_api_key=key,
        runpod_endpoint_id=endpoint,
        runpod_api_base=base,
        runpod_timeout=timeout,
        runpod_poll_interval=0.05,
        comfyui_workflow=workflow,
    )
    return RunPodEngine.from_settings(settings)


def run_body(fake: FakeRunPod) -> dict:
    return json.loads(fake.find("POST", "/v2/ep-restore/run")[0].body)


def test_is_configured_needs_key_and_endpoint() -> None:
    assert not RunPodEngine.is_configured(Settings(_env_file=None, runpod_api_key="k"))
    assert not RunPodEngine.is_configured(Settings(_env_file=None, runpod_endpoint_id="e"))
    assert RunPodEngine.is_configured(
        Settings(_env_file=None, runpod_api_key="k", runpod_endpoint_id="e")
    )


def test_success_with_base64_output(fake: FakeRunPod) -> None:
    result = make_engine(fake).restore(RestoreRequest(image=IMAGE, denoise=0.4, seed=5))

    assert result.data == fake.result
    assert result.content_type == "image/png"
    assert result.model == "runpod/restore-qwen-image-edit"  # the default workflow
    job_input = run_body(fake)["input"]
    (image,) = job_input["images"]
    assert base64.b64decode(image["image"]) == IMAGE
    graph = job_input["workflow"]
    assert graph["1"]["inputs"]["image"] == image["name"]
    assert graph["8"]["inputs"]["seed"] == 5
    assert graph["2"]["inputs"]["megapixels"] == 1.0
    assert graph["3"]["class_type"] == "UNETLoader"
    assert "_rekindle" not in graph
    assert fake.find("POST", "/v2/")[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert fake.count("POST", "/v2/ep-restore/run") == 1
    assert fake.count("GET", "/v2/ep-restore/status/") == 3  # IN_QUEUE, IN_PROGRESS, COMPLETED
    assert fake.count("POST", "/v2/ep-restore/cancel/") == 0
    params = result.params
    assert params["provider"] == "runpod" and params["job_id"] in fake.jobs
    assert params["delay_ms"] == 812 and params["execution_ms"] == 2345
    assert params["seed"] == 5 and "denoise" not in params  # asked in words, not sent as a value
    assert params["megapixels"] == 1.0
    assert params["input_reencoded"] is False


def test_a_mask_input_gets_the_mask_as_a_second_image(fake: FakeRunPod, tmp_path: Path) -> None:
    document = {
        "_rekindle": {"inputs": {"image": ["a", "image"], "mask": ["k", "image"]}, "output": "z"},
        "a": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "k": {"class_type": "LoadImage", "inputs": {"image": "m.png"}},
        "z": {"class_type": "SaveImage", "inputs": {"images": ["a", 0]}},
    }
    path = tmp_path / "masked.json"
    path.write_text(json.dumps(document))
    engine = make_engine(fake, workflow=path)
    assert "mask" in engine.supported_options()
    mask = png_bytes(64, 48, (255, 255, 255))
    result = engine.restore(RestoreRequest(image=IMAGE, mask=mask))
    job_input = run_body(fake)["input"]
    image, sent_mask = job_input["images"]
    assert job_input["workflow"]["k"]["inputs"]["image"] == sent_mask["name"]
    assert base64.b64decode(sent_mask["image"]) == mask
    assert job_input["workflow"]["a"]["inputs"]["image"] == image["name"]
    assert result.params["mask"] is True


def test_cancel_remote_cancels_the_job(fake: FakeRunPod) -> None:
    """What the stuck-attempt sweep calls with the job id the worker recorded."""
    told: list[dict] = []
    make_engine(fake).restore(RestoreRequest(image=IMAGE, on_submitted=told.append))
    assert told == [{"job_id": next(iter(fake.jobs))}]
    assert make_engine(fake).cancel_remote(told[0]) is True
    assert fake.count("POST", f"/v2/ep-restore/cancel/{told[0]['job_id']}") == 1


@pytest.mark.parametrize("mode", ["s3_url", "legacy"])
def test_url_and_legacy_outputs(fake: FakeRunPod, mode: str) -> None:
    fake.output_mode = mode
    result = make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert result.data == fake.result
    assert fake.count("GET", "/files/") == (1 if mode == "s3_url" else 0)


@pytest.mark.parametrize(
    ("final", "code", "message"),
    [
        ("FAILED", "provider_rejected_image", "Image could not be processed"),
        ("TIMED_OUT", "provider_timeout", "Service timeout, please retry"),
        ("CANCELLED", "provider_unavailable", "Service unavailable"),
    ],
)
def test_jobs_ending_badly(fake: FakeRunPod, final: str, code: str, message: str) -> None:
    fake.final = final
    fake.error_details = ["Node 4 (CheckpointLoaderSimple): ckpt_name not in list"]
    with pytest.raises(EngineError) as info:
        make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert (info.value.code, info.value.message) == (code, message)
    assert final in (info.value.detail or "")
    if final == "FAILED":
        assert "Workflow validation failed" in (info.value.detail or "")
        assert "ckpt_name not in list" in (info.value.detail or "")
    assert fake.count("POST", "/v2/ep-restore/run") == 1  # fail fast: no retry


def test_our_time_limit_cancels_the_job(fake: FakeRunPod) -> None:
    fake.hang = True
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        make_engine(fake, timeout=0.5).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"
    assert time.monotonic() - started < 2.0
    assert fake.cancelled == list(fake.jobs)


def test_slow_status_answer_hits_our_timeout_and_cancels(fake: FakeRunPod) -> None:
    fake.status_delay = 3.0
    with pytest.raises(EngineError) as info:
        make_engine(fake, timeout=0.5).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"
    assert fake.cancelled == list(fake.jobs)


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, {"error": "invalid input"}, "provider_rejected_image"),
        (429, {"error": "rate limit exceeded"}, "provider_busy"),
        (500, b"internal error", "provider_unavailable"),
        (401, "Unauthorized", "provider_auth_failed"),
    ],
)
def test_run_error_statuses(fake: FakeRunPod, status: int, body, code: str) -> None:
    fake.fail_run = (status, body)
    with pytest.raises(EngineError) as info:
        make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == code
    assert f"HTTP {status}" in (info.value.detail or "")
    assert fake.count("GET", "/v2/") == 0


def test_wrong_key_and_wrong_endpoint(fake: FakeRunPod) -> None:
    with pytest.raises(EngineError) as info:
        make_engine(fake, key="nope").restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_auth_failed"
    with pytest.raises(EngineError) as info:
        make_engine(fake, endpoint="ep-missing").restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_unavailable"
    assert "404" in (info.value.detail or "")


def test_network_error_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EngineError) as info:
        make_engine(f"http://127.0.0.1:{port}/v2", timeout=2.0).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_unavailable"


def test_malformed_status_is_a_bad_result(fake: FakeRunPod) -> None:
    fake.malformed_status = True
    with pytest.raises(EngineError) as info:
        make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"
    assert fake.cancelled == list(fake.jobs)  # we stopped following it: it must not run on


@pytest.mark.parametrize(
    "output",
    [
        {
            "images": [
                {"filename": "x.png", "type": "base64", "data": base64.b64encode(b"nope").decode()}
            ]
        },
        {"images": [{"filename": "x.png", "type": "base64", "data": "!!not base64!!"}]},
        {"status": "success_no_images", "images": []},
        None,
    ],
    ids=["not-an-image", "bad-base64", "no-images", "no-output"],
)
def test_bad_outputs(fake: FakeRunPod, output) -> None:
    fake.output_mode = lambda job_input: output
    with pytest.raises(EngineError) as info:
        make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"


def test_completed_with_an_error_output(fake: FakeRunPod) -> None:
    fake.output_mode = lambda job_input: {"error": "Job processing failed", "details": ["boom"]}
    with pytest.raises(EngineError) as info:
        make_engine(fake).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_rejected_image"
    assert "boom" in (info.value.detail or "")


def noise_jpeg(size: int) -> bytes:
    rng = random.Random(1)
    img = Image.frombytes(
        "RGB", (size, size), bytes(rng.getrandbits(8) for _ in range(size * size * 3))
    )
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_payload_limit_is_respected(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch) -> None:
    big = noise_jpeg(300)
    limit = 60_000
    assert len(big) * 4 // 3 > limit
    monkeypatch.setattr(runpod_client, "RUN_PAYLOAD_LIMIT", limit)
    result = make_engine(fake).restore(RestoreRequest(image=big))
    assert result.params["input_reencoded"] is True
    assert len(fake.find("POST", "/v2/ep-restore/run")[0].body) <= limit


def test_client_refuses_a_body_over_the_limit_unsent(fake: FakeRunPod) -> None:
    client = runpod_client.RunPodClient(
        provider="runpod",
        api_key=API_KEY,
        endpoint_id="ep-restore",
        api_base=fake.api_base,
        poll_interval=0.05,
        request_timeout=5,
        max_connections=2,
    )
    with pytest.raises(EngineError) as info:
        client.run({"blob": "x" * (runpod_client.RUN_PAYLOAD_LIMIT + 1)}, 5)
    assert info.value.code == "provider_rejected_image"
    assert fake.count("POST") == 0
