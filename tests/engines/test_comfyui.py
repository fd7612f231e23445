"""ComfyUIEngine against a local ComfyUI-protocol server (HTTP routes and the /ws websocket)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rekindle.config import Settings
from rekindle.engines import workflows
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.comfyui import ComfyUIEngine
from tests.engines.fakes import FakeComfyUI, jpeg_bytes

IMAGE = jpeg_bytes(64, 48)


@pytest.fixture
def fake() -> Iterator[FakeComfyUI]:
    with FakeComfyUI() as server:
        yield server


def make_engine(url: str, *, timeout: float = 5.0, poll: float = 0.2, workflow: Path | None = None):
    settings = Settings(
        _env_file=None,
        comfyui_url=url,
        comfyui_timeout=timeout,
        comfyui_poll_interval=poll,
        comfyui_workflow=workflow,
    )
    return ComfyUIEngine.from_settings(settings)


def submitted(fake: FakeComfyUI) -> dict:
    return json.loads(fake.find("POST", "/prompt")[0].body)


def test_is_configured_needs_the_url() -> None:
    assert not ComfyUIEngine.is_configured(Settings(_env_file=None, comfyui_url=None))
    assert ComfyUIEngine.is_configured(Settings(_env_file=None, comfyui_url="http://gpu:8188"))


def test_success_over_the_websocket(fake: FakeComfyUI) -> None:
    engine = make_engine(fake.url, poll=5.0)  # the socket alone must carry us to the end
    result = engine.restore(RestoreRequest(image=IMAGE, denoise=0.35, seed=77))

    assert result.data == fake.output
    assert result.content_type == "image/png"
    assert result.model == "comfyui/restore"
    body = submitted(fake)
    prompt_id = result.params["prompt_id"]
    assert body["prompt_id"] == prompt_id
    ws = fake.find("WS", "/ws")
    assert len(ws) == 1 and ws[0].query["clientId"] == body["client_id"]
    graph = body["prompt"]
    assert not any(key.startswith("_") for key in graph)
    assert fake.uploads[graph["1"]["inputs"]["image"]] == IMAGE
    assert graph["8"]["inputs"]["denoise"] == 0.35
    assert graph["8"]["inputs"]["seed"] == 77
    assert graph["2"]["inputs"]["megapixels"] == 1.0
    assert graph["6"]["inputs"]["text"].startswith("restored old photograph")
    assert result.params | {"elapsed_seconds": 0} == {
        "provider": "comfyui",
        "workflow": "restore",
        "prompt_id": prompt_id,
        "prompt": graph["6"]["inputs"]["text"],
        "denoise": 0.35,
        "megapixels": 1.0,
        "seed": 77,
        "elapsed_seconds": 0,
    }
    assert fake.count("POST", "/upload/image") == 1
    assert fake.count("POST", "/prompt") == 1
    assert fake.count("GET", "/view") == 1
    view = fake.find("GET", "/view")[0]
    assert view.query == {
        "filename": "restore_00001_.png",
        "subfolder": "rekindle",
        "type": "output",
    }
    assert fake.count("POST", "/interrupt") == 0


def test_random_seed_and_prompt_options(fake: FakeComfyUI) -> None:
    engine = make_engine(fake.url)
    result = engine.restore(RestoreRequest(image=IMAGE, colorize=True, prompt="sepia scarf"))
    graph = submitted(fake)["prompt"]
    assert graph["8"]["inputs"]["seed"] == result.params["seed"]
    text = graph["6"]["inputs"]["text"]
    assert "colorized" in text and text.endswith("sepia scarf")


def test_silent_socket_falls_back_to_polling(fake: FakeComfyUI) -> None:
    fake.silent_ws = True
    result = make_engine(fake.url, poll=0.2).restore(RestoreRequest(image=IMAGE))
    assert result.data == fake.output
    assert fake.count("WS", "/ws") == 1
    assert fake.count("GET", "/history/") >= 1


def test_closed_socket_falls_back_to_polling(fake: FakeComfyUI) -> None:
    fake.close_ws = True
    fake.run_seconds = 0.3
    result = make_engine(fake.url, poll=0.1).restore(RestoreRequest(image=IMAGE))
    assert result.data == fake.output
    assert fake.count("GET", "/queue") >= 1  # still running: asked the queue, kept waiting


def test_node_errors_become_a_clear_failure(fake: FakeComfyUI) -> None:
    fake.reject_workflow = True
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_rejected_image"
    assert info.value.message == "Image could not be processed"
    detail = info.value.detail or ""
    assert "prompt_outputs_failed_validation" in detail
    assert "node 4 (CheckpointLoaderSimple): Value not in list" in detail
    assert "ckpt_name" in detail


@pytest.mark.parametrize("silent", [False, True], ids=["socket", "polling"])
def test_execution_error_becomes_a_clear_failure(fake: FakeComfyUI, silent: bool) -> None:
    fake.execution_error = True
    fake.silent_ws = silent
    with pytest.raises(EngineError) as info:
        make_engine(fake.url, poll=0.2).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_rejected_image"
    assert "node 8 (KSampler)" in (info.value.detail or "")
    assert "CUDA out of memory" in (info.value.detail or "")
    assert fake.count("GET", "/view") == 0


def test_time_limit_interrupts_our_prompt(fake: FakeComfyUI) -> None:
    fake.hang = True
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        make_engine(fake.url, timeout=0.8, poll=0.2).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"
    assert info.value.message == "Service timeout, please retry"
    assert time.monotonic() - started < 3.0
    prompt_id = submitted(fake)["prompt_id"]
    assert fake.interrupted == [prompt_id]  # targeted: other users' prompts keep running
    assert json.loads(fake.find("POST", "/interrupt")[0].body) == {"prompt_id": prompt_id}


def test_server_error_on_prompt_is_unavailable(fake: FakeComfyUI) -> None:
    fake.prompt_status = 500
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_unavailable"
    assert "HTTP 500" in (info.value.detail or "")


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EngineError) as info:
        make_engine(f"http://127.0.0.1:{port}", timeout=2.0).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_unavailable"
    assert info.value.message == "Service unavailable"


@pytest.mark.parametrize("output", [b"<html>oops</html>", b""], ids=["html", "empty"])
def test_non_image_output_is_a_bad_result(fake: FakeComfyUI, output: bytes) -> None:
    fake.output = output
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"


def test_old_server_that_ignores_our_prompt_id_is_refused(fake: FakeComfyUI) -> None:
    fake.ignore_prompt_id = True
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"
    assert "prompt_id" in (info.value.detail or "")
    # The prompt it queued under its own id is taken off the queue (or interrupted) again.
    [theirs] = fake.prompts
    assert theirs in fake.deleted or theirs in fake.interrupted


def test_a_configured_workflow_file_is_used(fake: FakeComfyUI, tmp_path: Path) -> None:
    document = {
        "_rekindle": {
            "inputs": {"image": ["a", "image"], "denoise": ["s", "denoise"], "seed": ["s", "seed"]},
            "output": "z",
        },
        "a": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "s": {"class_type": "KSampler", "inputs": {"denoise": 1.0, "seed": 0}},
        "z": {"class_type": "SaveImage", "inputs": {"images": ["s", 0]}},
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(document))
    result = make_engine(fake.url, workflow=path).restore(RestoreRequest(image=IMAGE, denoise=0.1))
    graph = submitted(fake)["prompt"]
    assert graph["s"]["inputs"] == {"denoise": 0.1, "seed": result.params["seed"]}
    assert result.model == "comfyui/mine"


def test_broken_workflow_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "_rekindle": {"inputs": {"image": ["9", "image"]}},
                "1": {"class_type": "LoadImage", "inputs": {}},
            }
        )
    )
    with pytest.raises(workflows.WorkflowError):
        workflows.load(bad, "restore.json")
    with pytest.raises(workflows.WorkflowError):
        workflows.load(tmp_path / "missing.json", "restore.json")


def test_packaged_workflows_declare_their_inputs() -> None:
    restore = workflows.load(None, "restore.json")
    assert set(restore.inputs) == {"image", "denoise", "megapixels", "seed", "prompt"}
    assert restore.defaults["megapixels"] == 1.0
    animate = workflows.load(None, "animate.json")
    assert {"image", "width", "height", "length", "fps", "seed"} <= set(animate.inputs)
