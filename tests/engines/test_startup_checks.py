"""Start-up checks of `rekindle worker`: settings that would fail restorations are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from rekindle.config import Settings
from rekindle.engines import workflows
from rekindle.startup import (
    ConfigurationError,
    check_comfyui_workflow,
    check_siliconflow_image_url,
    check_sweep_limit,
    is_public_host,
)
from rekindle.storage.local import LocalStore
from tests.engines.fakes import FakeComfyUI
from tests.support.services import REPO_ROOT, s3_store

SCHEMA = REPO_ROOT.parent / "shared" / "comfyui" / "object_info-v0.33.0.json"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


# --- the sweep limit against the engines' own limits ------------------------------------------


def test_the_defaults_leave_the_sweep_a_margin_over_every_engine() -> None:
    check_sweep_limit(
        settings(
            siliconflow_api_key="sk",
            comfyui_url="http://gpu:8188",
            runpod_api_key="rp",
            runpod_endpoint_id="ep",
        )
    )


@pytest.mark.parametrize(
    ("engine", "values"),
    [
        ("comfyui", {"comfyui_url": "http://gpu:8188"}),
        ("runpod", {"runpod_api_key": "rp", "runpod_endpoint_id": "ep"}),
        ("siliconflow", {"siliconflow_api_key": "sk", "siliconflow_timeout": 150}),
    ],
)
def test_a_sweep_limit_within_an_engine_timeout_is_refused(engine: str, values: dict) -> None:
    """The issue's case: COMFYUI_TIMEOUT and TASK_TIME_LIMIT_SECONDS both 300 s."""
    with pytest.raises(ConfigurationError) as info:
        check_sweep_limit(settings(task_time_limit_seconds=300, **values))
    assert engine in str(info.value) and "TASK_TIME_LIMIT_SECONDS" in str(info.value)


def test_an_engine_not_configured_does_not_count() -> None:
    check_sweep_limit(settings(task_time_limit_seconds=5))  # classic only


def test_a_beat_worker_refuses_to_start(tmp_path: Path) -> None:
    env = {
        "REKINDLE_DATA_DIR": str(tmp_path),
        "COMFYUI_URL": "http://127.0.0.1:9",
        "TASK_TIME_LIMIT_SECONDS": "300",
        "COMFYUI_TIMEOUT": "300",
    }

    result = subprocess.run(
        [sys.executable, "-m", "rekindle", "worker", "--beat"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TASK_TIME_LIMIT_SECONDS=300 is too short" in result.stderr


# --- SiliconFlow's URL mode -------------------------------------------------------------------


URL_MODE = {"siliconflow_api_key": "sk", "siliconflow_image_input": "url"}


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "10.0.0.5", "192.168.1.20", "minio", "[::1]", "s3.lan"],
)
def test_private_hosts_are_not_public(host: str) -> None:
    assert not is_public_host(host, resolve=lambda name: ["8.8.8.8"])


def test_public_hosts_and_names_resolving_privately() -> None:
    assert is_public_host("8.8.8.8")
    assert is_public_host("s3.example.com", resolve=lambda name: ["93.184.216.34"])
    assert not is_public_host("s3.example.com", resolve=lambda name: ["10.1.2.3"])


def test_url_mode_refuses_a_store_signing_for_loopback(s3_endpoint: str) -> None:
    """Compose's MinIO signs for localhost:9000, which SiliconFlow can never reach."""
    store = s3_store(s3_endpoint, "rekindle-startup")
    with pytest.raises(ConfigurationError) as info:
        check_siliconflow_image_url(settings(**URL_MODE), store)
    assert "127.0.0.1" in str(info.value) and "base64" in str(info.value)


def test_url_mode_accepts_a_public_signing_host(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, "rekindle-startup", public_endpoint_url="https://8.8.8.8:9000")
    check_siliconflow_image_url(settings(**URL_MODE), store)


def test_url_mode_needs_a_store_that_signs(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        check_siliconflow_image_url(settings(**URL_MODE), LocalStore(tmp_path, b"k" * 32, 60))


def test_base64_mode_needs_no_url(tmp_path: Path) -> None:
    check_siliconflow_image_url(
        settings(siliconflow_api_key="sk"), LocalStore(tmp_path, b"k" * 32, 60)
    )


# --- COMFYUI_WORKFLOW against the server's /object_info ---------------------------------------


@pytest.fixture
def comfyui() -> Iterator[FakeComfyUI]:
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} is absent: the shared ComfyUI schema lives beside the repository")
    with FakeComfyUI() as server:
        server.object_info = json.loads(SCHEMA.read_text(encoding="utf-8"))
        yield server


def _user_workflow(tmp_path: Path, **changes: Any) -> Path:
    document = json.loads(
        (resources.files(workflows) / "restore-qwen-image-edit.json").read_text(encoding="utf-8")
    )
    document["8"]["inputs"].update(changes)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(document))
    return path


def test_a_user_workflow_that_fits_the_server_passes(comfyui: FakeComfyUI, tmp_path: Path) -> None:
    path = _user_workflow(tmp_path, steps=8)
    assert check_comfyui_workflow(settings(comfyui_url=comfyui.url, comfyui_workflow=path)) == []
    assert comfyui.count("GET", "/object_info") == 1


def test_a_user_workflow_the_server_would_refuse_is_refused(
    comfyui: FakeComfyUI, tmp_path: Path
) -> None:
    path = _user_workflow(tmp_path, cfg=500.0, sampler_name="euler_fancy")
    with pytest.raises(ConfigurationError) as info:
        check_comfyui_workflow(settings(comfyui_url=comfyui.url, comfyui_workflow=path))
    text = str(info.value)
    assert "node 8 (KSampler): 'cfg' value 500.0 is bigger than max 100.0" in text
    assert "euler_fancy" in text


def test_an_unreachable_server_only_warns(tmp_path: Path) -> None:
    path = _user_workflow(tmp_path, cfg=500.0)
    assert (
        check_comfyui_workflow(settings(comfyui_url="http://127.0.0.1:9", comfyui_workflow=path))
        is None
    )
