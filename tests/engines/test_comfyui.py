"""ComfyUIEngine against a local ComfyUI-protocol server (HTTP routes and the /ws websocket)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rekindle.config import Settings
from rekindle.engines import workflows
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.comfyui import ComfyUIEngine
from tests.engines.fakes import FakeComfyUI, jpeg_bytes, png_bytes

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
    result = engine.restore(RestoreRequest(image=IMAGE, denoise=0.5, seed=77))

    assert result.data == fake.output
    assert result.content_type == "image/png"
    assert result.model == "comfyui/restore-qwen-image-edit"  # the default workflow
    body = submitted(fake)
    prompt_id = result.params["prompt_id"]
    assert body["prompt_id"] == prompt_id
    ws = fake.find("WS", "/ws")
    assert len(ws) == 1 and ws[0].query["clientId"] == body["client_id"]
    graph = body["prompt"]
    assert not any(key.startswith("_") for key in graph)
    # our own subfolder, a per-attempt name
    assert graph["1"]["inputs"]["image"] == f"rekindle/{prompt_id}-image.jpg"
    assert fake.uploads[graph["1"]["inputs"]["image"]] == IMAGE
    assert graph["8"]["inputs"]["seed"] == 77
    assert graph["2"]["inputs"]["megapixels"] == 1.0
    assert graph["6"]["inputs"]["prompt"].startswith("Restore this old damaged photo.")
    assert graph["3"]["inputs"]["unet_name"] == "qwen_image_edit_fp8_e4m3fn.safetensors"
    assert result.params | {"elapsed_seconds": 0} == {
        "provider": "comfyui",
        "workflow": "restore-qwen-image-edit",
        "prompt_id": prompt_id,
        "prompt": graph["6"]["inputs"]["prompt"],
        "megapixels": 1.0,
        "seed": 77,
        "mask": False,
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
    assert fake.history_deleted == [prompt_id] and prompt_id not in fake.history


def test_random_seed_and_prompt_options(fake: FakeComfyUI) -> None:
    engine = make_engine(fake.url)
    result = engine.restore(
        RestoreRequest(image=IMAGE, colorize=True, denoise=0.9, prompt="sepia scarf")
    )
    graph = submitted(fake)["prompt"]
    assert graph["8"]["inputs"]["seed"] == result.params["seed"]
    text = graph["6"]["inputs"]["prompt"]
    assert "colorized" in text and "remove film grain" in text and text.endswith("sepia scarf")
    assert graph["8"]["inputs"]["denoise"] == 1.0  # an edit model: the grain is asked in words


def test_the_sdxl_workflow_stays_available_by_name(fake: FakeComfyUI) -> None:
    result = make_engine(fake.url, workflow=Path("restore.json")).restore(
        RestoreRequest(image=IMAGE, denoise=0.35, seed=3)
    )
    graph = submitted(fake)["prompt"]
    assert result.model == "comfyui/restore"
    assert graph["8"]["inputs"]["denoise"] == 0.35
    assert graph["6"]["inputs"]["text"].startswith("restored old photograph")
    assert result.params["denoise"] == 0.35


def custom_workflow(tmp_path: Path, meta: dict) -> Path:
    document = {
        "_rekindle": meta,
        "a": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "m": {"class_type": "ImageScaleToTotalPixels", "inputs": {"megapixels": 1.0}},
        "s": {"class_type": "KSampler", "inputs": {"denoise": 1.0, "seed": 0}},
        "z": {"class_type": "SaveImage", "inputs": {"images": ["s", 0]}},
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(document))
    return path


def test_a_workflows_own_megapixels_default_is_respected(fake: FakeComfyUI, tmp_path: Path) -> None:
    path = custom_workflow(
        tmp_path,
        {
            "inputs": {"image": ["a", "image"], "megapixels": ["m", "megapixels"]},
            "defaults": {"megapixels": 2.5},
            "output": "z",
        },
    )
    result = make_engine(fake.url, workflow=path).restore(RestoreRequest(image=IMAGE))
    assert submitted(fake)["prompt"]["m"]["inputs"]["megapixels"] == 2.5
    assert result.params["megapixels"] == 2.5


def test_only_what_was_sent_is_recorded(fake: FakeComfyUI, tmp_path: Path) -> None:
    """A workflow without prompt or seed inputs: neither is sent, so neither is recorded."""
    path = custom_workflow(
        tmp_path, {"inputs": {"image": ["a", "image"], "denoise": ["s", "denoise"]}, "output": "z"}
    )
    engine = make_engine(fake.url, workflow=path)
    assert engine.supported_options() == frozenset({"denoise"})
    result = engine.restore(RestoreRequest(image=IMAGE, denoise=0.2))
    assert submitted(fake)["prompt"]["s"]["inputs"] == {"denoise": 0.2, "seed": 0}
    assert "prompt" not in result.params and "seed" not in result.params
    assert "megapixels" not in result.params
    assert result.params["denoise"] == 0.2


def test_a_mask_input_gets_the_uploaded_mask(fake: FakeComfyUI, tmp_path: Path) -> None:
    document = {
        "_rekindle": {
            "inputs": {"image": ["a", "image"], "mask": ["k", "image"]},
            "output": "z",
        },
        "a": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "k": {"class_type": "LoadImage", "inputs": {"image": "m.png"}},
        "z": {"class_type": "SaveImage", "inputs": {"images": ["a", 0]}},
    }
    path = tmp_path / "masked.json"
    path.write_text(json.dumps(document))
    engine = make_engine(fake.url, workflow=path)
    assert "mask" in engine.supported_options()
    mask = png_bytes(64, 48, (255, 255, 255))
    result = engine.restore(RestoreRequest(image=IMAGE, mask=mask))
    graph = submitted(fake)["prompt"]
    prompt_id = result.params["prompt_id"]
    assert graph["k"]["inputs"]["image"] == f"rekindle/{prompt_id}-mask.png"
    assert fake.uploads[graph["k"]["inputs"]["image"]] == mask
    assert result.params["mask"] is True


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
    """A missing model file is the operator's fault, not the user's image."""
    fake.reject_workflow = True
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_workflow_error"
    assert info.value.message == "Service configuration error"
    detail = info.value.detail or ""
    assert "prompt_outputs_failed_validation" in detail
    assert "node 3 (UNETLoader): Value not in list" in detail
    assert "unet_name" in detail
    assert info.value.params["prompt_id"] == submitted(fake)["prompt_id"]


@pytest.mark.parametrize("silent", [False, True], ids=["socket", "polling"])
def test_execution_error_becomes_a_clear_failure(fake: FakeComfyUI, silent: bool) -> None:
    """Out of memory while a node runs is the server's sizing, not the user's image."""
    fake.execution_error = True
    fake.silent_ws = silent
    with pytest.raises(EngineError) as info:
        make_engine(fake.url, poll=0.2).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_workflow_error"
    assert info.value.message == "Service configuration error"
    assert "node 8 (KSampler)" in (info.value.detail or "")
    assert "CUDA out of memory" in (info.value.detail or "")
    assert fake.count("GET", "/view") == 0
    prompt_id = submitted(fake)["prompt_id"]
    assert info.value.params["prompt_id"] == prompt_id  # traceable on the server
    assert prompt_id in fake.history_deleted


@pytest.mark.parametrize(
    ("node", "exception", "code"),
    [
        ("1", "PIL.UnidentifiedImageError", "provider_rejected_image"),
        ("8", "RuntimeError", "provider_workflow_error"),
    ],
    ids=["image-loader", "other-node"],
)
def test_execution_errors_are_blamed_on_the_right_party(
    fake: FakeComfyUI, node: str, exception: str, code: str
) -> None:
    fake.execution_error = True
    fake.error_node, fake.error_type, fake.error_message = node, exception, "boom"
    with pytest.raises(EngineError) as info:
        make_engine(fake.url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == code


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
    assert info.value.params["prompt_id"] == prompt_id


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
    assert "prompt" not in result.params
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


def test_cancel_remote_interrupts_a_running_prompt(fake: FakeComfyUI) -> None:
    """What the stuck-attempt sweep calls when the worker that followed a prompt died."""
    fake.hang = True
    told: list[dict] = []
    engine = make_engine(fake.url, timeout=30.0, poll=0.2)
    failures: list[EngineError] = []

    def follow() -> None:
        try:
            engine.restore(RestoreRequest(image=IMAGE, on_submitted=told.append))
        except EngineError as exc:
            failures.append(exc)

    worker = threading.Thread(target=follow, daemon=True)
    worker.start()
    deadline = time.monotonic() + 5
    while not told or fake.prompts.get(told[0]["prompt_id"], {}).get("state") != "running":
        assert time.monotonic() < deadline, "the prompt never ran"
        time.sleep(0.02)
    other = make_engine(fake.url)  # another process: the sweep's own engine instance
    assert other.cancel_remote(told[0]) is True
    assert fake.interrupted == [told[0]["prompt_id"]]
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert failures and failures[0].code == "provider_unavailable"  # interrupted


def test_packaged_workflows_declare_their_inputs() -> None:
    restore = workflows.load(None, "restore.json")
    assert set(restore.inputs) == {"image", "denoise", "megapixels", "seed", "prompt"}
    assert restore.defaults["megapixels"] == 1.0
    animate = workflows.load(None, "animate.json")
    assert {"image", "width", "height", "length", "fps", "seed"} <= set(animate.inputs)
