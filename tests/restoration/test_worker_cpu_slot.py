"""In the worker, preprocessing of a classic restoration runs inside the CPU slot that bounds
classic restorations (`CLASSIC_MAX_PARALLEL`), and inside a decode slot (`DECODE_MAX_PARALLEL`)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekindle.config import Settings
from rekindle.imaging import decode
from rekindle.restoration import runner
from rekindle.runtime import Runtime


def test_preprocessing_holds_the_cpu_and_decode_slots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        rekindle_data_dir=tmp_path,
        database_url=None,
        redis_url=None,
        s3_bucket=None,
        classic_max_parallel=1,
        decode_max_parallel=1,
    )
    runtime = Runtime(settings)
    pixels = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    owner, photo_id, attempt_id = "slot-user", uuid.uuid4(), uuid.uuid4()
    original_key = f"users/{owner}/processed/{photo_id}.png"
    runtime.store.put(original_key, buffer.getvalue(), "image/png")
    seen: dict[str, bool] = {}
    real_preprocess = runner.preprocess

    def observing_preprocess(data: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
        cpu = runner._cpu_slot(1)
        seen["cpu_slot_free"] = cpu.acquire(blocking=False)
        if seen["cpu_slot_free"]:
            cpu.release()
        slot = decode._decode_slots[1]
        seen["decode_slot_free"] = slot.acquire(blocking=False)
        if seen["decode_slot_free"]:
            slot.release()
        return real_preprocess(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "preprocess", observing_preprocess)
    job = runner._Job(
        attempt_id, photo_id, owner, original_key, "classic", {"request": {"denoise": 0.3}}
    )
    try:
        runner._restore_and_store(runtime, job, [], 0.0)
    finally:
        runtime.close()
    assert seen == {"cpu_slot_free": False, "decode_slot_free": False}
