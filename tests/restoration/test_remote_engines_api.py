"""AI engines through the API and a real worker, against local servers that speak each provider's
protocol: results are stored, and every provider failure ends the attempt `failed` with the right
code and message, the photo back in its earlier status, nothing stuck and nothing left stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from rekindle.engines.base import RESTORE_OPTIONS
from rekindle.engines.registry import restoration_engine
from tests.engines.fakes import FakeComfyUI, FakeRunPod, FakeSiliconFlow
from tests.engines.fakes.siliconflow import API_KEY
from tests.support.services import shared_photo
from tests.support.stack import Stack, open_stack


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    with FakeSiliconFlow() as siliconflow, FakeComfyUI() as comfyui, FakeRunPod() as runpod:
        yield {"siliconflow": siliconflow, "comfyui": comfyui, "runpod": runpod}


@pytest.fixture(scope="module", params=["embedded", "production"])
def ai_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    s3_endpoint: str,
    fakes: dict[str, Any],
) -> Iterator[Stack]:
    overrides = {
        "rekindle_engines_allowed": "classic,siliconflow,comfyui,runpod",
        "siliconflow_api_key": API_KEY,
        "siliconflow_api_url": fakes["siliconflow"].api_url,
        "siliconflow_timeout": 1.5,
        "engine_budgets": '{"siliconflow": {}}',  # no provider budget: many calls a minute
        "comfyui_url": fakes["comfyui"].url,
        "comfyui_timeout": 5,
        "comfyui_poll_interval": 0.5,
        "runpod_api_key": "rp-test",
        "runpod_endpoint_id": "ep-restore",
        "runpod_api_base": fakes["runpod"].api_base,
        "runpod_timeout": 3,
        "runpod_poll_interval": 0.1,
    }
    data_dir = tmp_path_factory.mktemp(f"ai-{request.param}")
    with open_stack(request.param, data_dir, s3_endpoint, **overrides) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_fakes(fakes: dict[str, Any]) -> None:
    siliconflow, comfyui, runpod = fakes["siliconflow"], fakes["comfyui"], fakes["runpod"]
    siliconflow.error, siliconflow.delay, siliconflow.malformed = None, 0.0, False
    comfyui.reject_workflow, comfyui.execution_error = False, False
    runpod.final, runpod.hang = "COMPLETED", False


def test_engines_are_listed(ai_stack: Stack) -> None:
    body = ai_stack.client.get("/api/v1/engines", headers=ai_stack.auth()).json()
    restorers = [engine for engine in body if engine["kind"] == "restore"]
    assert [engine["name"] for engine in restorers] == [
        "classic",
        "siliconflow",
        "comfyui",
        "runpod",
    ]
    assert [engine["name"] for engine in restorers if engine["default"]] == ["classic"]
    for engine in restorers:
        honoured = restoration_engine(engine["name"], ai_stack.settings).supported_options()
        assert engine["options"] == [o for o in RESTORE_OPTIONS if o in honoured]


@pytest.mark.parametrize("engine", ["siliconflow", "comfyui", "runpod"])
def test_remote_engine_result_is_stored(
    ai_stack: Stack, engine: str, fakes: dict[str, Any]
) -> None:
    user = f"{engine}-ok"
    photo = ai_stack.upload(shared_photo("real-old/scratch-girl-floral.png"), user=user)
    accepted = ai_stack.restore(photo["id"], user=user, engine=engine, denoise=0.4)
    assert accepted.status_code == 202, accepted.text
    ready = ai_stack.wait_for_photo(photo["id"], ("ready",), user=user)
    attempt = ready["restore_attempts"][0]
    assert attempt["status"] == "completed" and attempt["engine"] == engine
    assert attempt["params"]["preprocessed"]["original_format"] == "PNG"
    assert attempt["params"]["request"]["denoise"] == 0.4
    if engine == "comfyui":
        # The job reference recorded while it ran is kept with the result (for support).
        assert attempt["params"]["remote"]["prompt_id"] in fakes["comfyui"].prompts
    elif engine == "runpod":
        assert attempt["params"]["remote"]["job_id"]
    import httpx

    with Image.open(io.BytesIO(httpx.get(ready["processed_url"]).content)) as image:
        assert image.format == "JPEG"
    if engine == "siliconflow":
        sent = fakes["siliconflow"].payloads[-1]
        # A data URI on every store (SILICONFLOW_IMAGE_INPUT=base64, the default).
        assert sent["image"].startswith("data:image/jpeg;base64,")
        assert attempt["params"]["provider"] == "siliconflow"
        assert attempt["params"]["seed"] == sent["seed"]
    # The provider's input copy is not kept; only the result and its thumbnail.
    keys = [k for k in ai_stack.object_keys() if attempt["id"] in k]
    assert sorted(k.split("/")[2] for k in keys) == ["restored", "thumbnails"]


FAILURES = [
    (
        "siliconflow",
        lambda f: f["siliconflow"].fail(401, "Invalid token"),
        "provider_auth_failed",
        "Service configuration error",
    ),
    (
        "siliconflow",
        lambda f: f["siliconflow"].fail(429, {"message": "TPM limit reached", "data": ""}),
        "provider_busy",
        "Service busy, please try again",
    ),
    (
        "siliconflow",
        lambda f: f["siliconflow"].fail(400, {"code": 20015, "message": "bad image", "data": None}),
        "provider_rejected_image",
        "Image could not be processed",
    ),
    (
        "siliconflow",
        lambda f: setattr(f["siliconflow"], "delay", 3.0),
        "provider_timeout",
        "Service timeout, please retry",
    ),
    (
        "siliconflow",
        lambda f: setattr(f["siliconflow"], "malformed", True),
        "provider_bad_result",
        "Image could not be processed",
    ),
    (
        "comfyui",
        lambda f: setattr(f["comfyui"], "execution_error", True),  # out of memory in a node
        "provider_workflow_error",
        "Service configuration error",
    ),
    (
        "runpod",
        lambda f: setattr(f["runpod"], "final", "FAILED"),
        "provider_rejected_image",
        "Image could not be processed",
    ),
    (
        "runpod",
        lambda f: setattr(f["runpod"], "final", "TIMED_OUT"),
        "provider_timeout",
        "Service timeout, please retry",
    ),
]


@pytest.mark.parametrize(
    ("engine", "breakage", "code", "message"),
    FAILURES,
    ids=[f"{row[0]}-{row[2]}-{i}" for i, row in enumerate(FAILURES)],
)
def test_provider_failure_ends_cleanly(
    ai_stack: Stack, fakes: dict[str, Any], engine: str, breakage: Any, code: str, message: str
) -> None:
    user = f"{engine}-{code}"
    photo = ai_stack.upload(shared_photo("real-old/scratch-girl-floral.png"), user=user)
    breakage(fakes)
    assert ai_stack.restore(photo["id"], user=user, engine=engine).status_code == 202
    after = ai_stack.wait_for_photo(photo["id"], ("uploaded",), user=user)
    attempt = after["restore_attempts"][0]
    assert attempt["status"] == "failed"
    assert attempt["error"] == {"code": code, "message": message}
    assert attempt["result_url"] is None and after["processed_url"] is None
    assert [k for k in ai_stack.object_keys() if attempt["id"] in k] == []
    # What support needs to trace the call stays on the failed attempt.
    if engine == "comfyui":
        assert attempt["params"]["prompt_id"] in fakes["comfyui"].prompts
    if engine == "siliconflow" and code != "provider_timeout":
        assert attempt["params"]["trace_id"] in fakes["siliconflow"].trace_ids
