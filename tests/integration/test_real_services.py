"""The engines and the store against the real services, opt-in (`uv run pytest -m integration`).

Each test sends one small real photo (a paid call on SiliconFlow and RunPod). Timings are printed
(`-s` shows them) next to seed 000's goal of a 60 s average restoration; they are reports, not
assertions, since a provider's queue is not ours to bound.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from rekindle.config import Settings
from rekindle.engines.base import RestoreRequest
from rekindle.engines.comfyui import ComfyUIEngine
from rekindle.engines.http import check_image
from rekindle.engines.runpod import RunPodEngine
from rekindle.engines.siliconflow import SiliconFlowEngine
from rekindle.imaging.preprocess import preprocess
from tests.integration.conftest import need
from tests.support.services import shared_photo

pytestmark = pytest.mark.integration

SEED_000_AVERAGE_SECONDS = 60.0
"""Seed 000: "Photo restoration completes within 60 seconds average"."""


def _photo() -> bytes:
    source = shared_photo("real-old/bw-two-people-1919.jpg").read_bytes()
    return preprocess(source, max_side=1024).image_bytes


def _report(what: str, seconds: float) -> None:
    ratio = seconds / SEED_000_AVERAGE_SECONDS
    print(f"\n{what}: {seconds:.1f} s ({ratio:.2f}x seed 000's 60 s average)")


def test_siliconflow_restores_a_real_photo() -> None:
    env = need("SILICONFLOW_API_KEY")
    settings = Settings(siliconflow_api_key=env["SILICONFLOW_API_KEY"])
    engine = SiliconFlowEngine.from_settings(settings)
    started = time.monotonic()
    result = engine.restore(RestoreRequest(image=_photo(), seed=1234))
    _report(f"SiliconFlow {settings.siliconflow_model}", time.monotonic() - started)
    assert check_image("siliconflow", result.data).startswith("image/")
    assert result.params["trace_id"]  # the header support asks for is really sent
    assert result.params["image_input"] == "data_uri"


def test_comfyui_restores_a_real_photo() -> None:
    env = need("COMFYUI_TEST_URL")
    settings = Settings(
        comfyui_url=env["COMFYUI_TEST_URL"],
        comfyui_workflow=os.environ.get("COMFYUI_WORKFLOW") or None,
    )
    engine = ComfyUIEngine.from_settings(settings)
    started = time.monotonic()
    result = engine.restore(RestoreRequest(image=_photo(), seed=7))
    _report(f"ComfyUI {engine.workflow.name}", time.monotonic() - started)
    assert check_image("comfyui", result.data).startswith("image/")
    # Our history entry is gone again.
    assert engine.client.get(f"/history/{result.params['prompt_id']}").json() == {}


def test_runpod_restores_a_real_photo() -> None:
    env = need("RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID")
    settings = Settings(
        runpod_api_key=env["RUNPOD_API_KEY"], runpod_endpoint_id=env["RUNPOD_ENDPOINT_ID"]
    )
    engine = RunPodEngine.from_settings(settings)
    started = time.monotonic()
    result = engine.restore(RestoreRequest(image=_photo(), seed=7))
    _report(f"RunPod {engine.workflow.name}", time.monotonic() - started)
    assert check_image("runpod", result.data).startswith("image/")


def test_real_s3_round_trip() -> None:
    need("RUN_INTEGRATION_TESTS", "S3_BUCKET")
    if os.environ["RUN_INTEGRATION_TESTS"] != "1":
        pytest.skip("set RUN_INTEGRATION_TESTS=1 to run this test against real S3")
    import httpx

    from rekindle.storage.factory import make_store

    store = make_store(Settings())
    key = f"integration-tests/{uuid.uuid4()}.jpg"
    data = _photo()
    store.put(key, data, "image/jpeg")
    try:
        assert store.get(key) == data
        url = store.provider_url(key)
        assert url and httpx.get(url, timeout=30).content == data  # what a provider fetches
    finally:
        store.delete_many([key])
