"""When the stuck-attempt sweep fails a remote attempt, the job on the provider is cancelled too:
ComfyUI's prompt is interrupted (or dropped from the queue), RunPod's job gets `/cancel`. Runs a
real embedded stack (API, in-process worker, SQLite) against local protocol servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from rekindle.db import session_scope, utcnow
from rekindle.models import RestoreAttempt
from rekindle.restoration.runner import sweep_stuck_attempts
from tests.engines.fakes import FakeComfyUI, FakeRunPod
from tests.support.services import shared_photo
from tests.support.stack import Stack, open_stack


@pytest.fixture
def hanging() -> Iterator[dict[str, Any]]:
    with FakeComfyUI() as comfyui, FakeRunPod() as runpod:
        comfyui.hang = True  # the prompt runs until interrupted
        runpod.hang = True  # the job stays IN_PROGRESS until cancelled
        yield {"comfyui": comfyui, "runpod": runpod}


@pytest.fixture
def stack(tmp_path: Path, s3_endpoint: str, hanging: dict[str, Any]) -> Iterator[Stack]:
    overrides = {
        "rekindle_engines_allowed": "classic,comfyui,runpod",
        "comfyui_url": hanging["comfyui"].url,
        "comfyui_timeout": 60,  # the engine would wait long: the worker "dies" before that
        "comfyui_poll_interval": 0.5,
        "runpod_api_key": "rp-test",
        "runpod_endpoint_id": "ep-restore",
        "runpod_api_base": hanging["runpod"].api_base,
        "runpod_timeout": 60,
        "runpod_poll_interval": 0.1,
    }
    with open_stack("embedded", tmp_path, s3_endpoint, **overrides) as running:
        yield running


def _wait(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _remote(stack: Stack, attempt_id: uuid.UUID) -> dict[str, Any] | None:
    with stack.runtime.sessions() as session:
        attempt = session.get(RestoreAttempt, attempt_id)
        return attempt.params.get("remote") if attempt is not None else None


@pytest.mark.parametrize("engine", ["comfyui", "runpod"])
def test_the_sweep_cancels_the_remote_job(
    stack: Stack, hanging: dict[str, Any], engine: str
) -> None:
    user = f"swept-{engine}"
    photo = stack.upload(shared_photo("real-old/scratch-girl-floral.png"), user=user)
    accepted = stack.restore(photo["id"], user=user, engine=engine)
    assert accepted.status_code == 202, accepted.text
    attempt_id = uuid.UUID(accepted.json()["id"])
    # The worker records the provider's job on the attempt as soon as it is queued.
    ref = _wait(lambda: _remote(stack, attempt_id), "the remote job to be recorded")
    # As if its worker had died long ago: the sweep fails the attempt ...
    with session_scope(stack.runtime.sessions) as session:
        session.execute(
            update(RestoreAttempt)
            .where(RestoreAttempt.id == attempt_id)
            .values(
                started_at=utcnow() - timedelta(seconds=stack.settings.task_time_limit_seconds + 5)
            )
        )
    assert sweep_stuck_attempts(stack.runtime) == 1
    # ... and stops the job on the provider, which nobody would collect any more.
    fake = hanging[engine]
    if engine == "comfyui":
        assert ref == {"prompt_id": ref["prompt_id"]}
        _wait(lambda: ref["prompt_id"] in fake.interrupted, "the prompt to be interrupted")
    else:
        assert ref == {"job_id": ref["job_id"]}
        _wait(
            lambda: fake.count("POST", f"/v2/ep-restore/cancel/{ref['job_id']}") >= 1,
            "the job to be cancelled",
        )
    after = stack.wait_for_photo(photo["id"], ("uploaded",), user=user)
    failed = after["restore_attempts"][0]
    assert failed["status"] == "failed" and failed["error"]["code"] == "timed_out"
