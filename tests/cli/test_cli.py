"""The `rekindle` command as a user runs it: restore files (locally and through AI engines that
speak their providers' protocols), mint tokens, migrate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from rekindle.auth.tokens import TokenVerifier
from rekindle.config import Settings
from tests.engines.fakes import FakeComfyUI, FakeRunPod, FakeSiliconFlow
from tests.engines.fakes.siliconflow import API_KEY
from tests.support.services import SHARED_PHOTOS, postgres_database, shared_photo


def rekindle(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rekindle", *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_restore_every_real_photo_to_a_folder(tmp_path: Path) -> None:
    shared_photo("real-old/scratch-couple-soldier.png")  # skip when the shared set is absent
    inputs = sorted((SHARED_PHOTOS / "real-old").glob("*.png")) + sorted(
        (SHARED_PHOTOS / "real-old").glob("*.jpg")
    )
    out = tmp_path / "out"
    result = rekindle(
        "restore",
        *map(str, inputs),
        "-o",
        str(out),
        env={"REKINDLE_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr
    written = sorted(out.iterdir())
    assert [p.stem for p in written] == sorted(p.stem for p in inputs)
    for source, target in zip(sorted(inputs, key=lambda p: p.stem), written, strict=True):
        with Image.open(target) as restored, Image.open(source) as original:
            assert restored.format == "JPEG"
            assert restored.size == original.size


def test_restore_one_file_to_a_named_output_and_bad_inputs(tmp_path: Path) -> None:
    source = shared_photo("real-old/bw-two-people-1919.jpg")
    target = tmp_path / "restored.jpg"
    ok = rekindle(
        "restore",
        str(source),
        "-o",
        str(target),
        "--denoise",
        "0.8",
        env={"REKINDLE_DATA_DIR": str(tmp_path / "data")},
    )
    assert ok.returncode == 0, ok.stderr
    assert Image.open(target).format == "JPEG"

    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    bad = rekindle(
        "restore",
        str(text),
        str(source),
        "-o",
        str(tmp_path / "mixed"),
        env={"REKINDLE_DATA_DIR": str(tmp_path / "data")},
    )
    assert bad.returncode == 1
    lines = [line for line in bad.stderr.splitlines() if "cannot restore" in line]
    assert len(lines) == 1 and "notes.jpg" in lines[0]
    assert (tmp_path / "mixed" / "bw-two-people-1919.jpg").exists()  # the good one still done
    missing = rekindle("restore", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.jpg"))
    assert missing.returncode == 1 and "nope.png" in missing.stderr

    unknown = rekindle(
        "restore",
        str(source),
        "-o",
        str(target),
        "--engine",
        "siliconflow",
        env={"SILICONFLOW_API_KEY": ""},
    )
    assert unknown.returncode == 1 and "not configured" in unknown.stderr


@pytest.mark.parametrize("engine", ["siliconflow", "comfyui", "runpod"])
def test_restore_through_an_ai_engine(engine: str, tmp_path: Path) -> None:
    source = shared_photo("real-old/scratch-girl-floral.png")
    with FakeSiliconFlow() as siliconflow, FakeComfyUI() as comfyui, FakeRunPod() as runpod:
        env = {
            "REKINDLE_DATA_DIR": str(tmp_path / "data"),
            "SILICONFLOW_API_KEY": API_KEY,
            "SILICONFLOW_API_URL": siliconflow.api_url,
            "COMFYUI_URL": comfyui.url,
            "RUNPOD_API_KEY": "rp-test",
            "RUNPOD_ENDPOINT_ID": "ep-restore",
            "RUNPOD_API_BASE": runpod.api_base,
            "RUNPOD_POLL_INTERVAL": "0.1",
        }
        target = tmp_path / "out.jpg"
        result = rekindle("restore", str(source), "-o", str(target), "--engine", engine, env=env)
        assert result.returncode == 0, result.stderr
        assert Image.open(target).format == "JPEG"
        calls = {
            "siliconflow": siliconflow.count("POST", "/v1/images/generations"),
            "comfyui": comfyui.count("POST", "/prompt"),
            "runpod": runpod.count("POST", "/v2/ep-restore/run"),
        }
        assert calls[engine] == 1
        assert sum(calls.values()) == 1


def test_an_engine_failure_shows_the_providers_detail(tmp_path: Path) -> None:
    """The operator running `rekindle restore` sees why ComfyUI refused, not only the user text."""
    source = shared_photo("real-old/scratch-girl-floral.png")
    with FakeComfyUI() as comfyui:
        comfyui.reject_workflow = True  # the diffusion model file is not on the server
        env = {"REKINDLE_DATA_DIR": str(tmp_path / "data"), "COMFYUI_URL": comfyui.url}
        result = rekindle(
            "restore", str(source), "-o", str(tmp_path / "out.jpg"), "--engine", "comfyui", env=env
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Service configuration error" in output
    assert "node 3 (UNETLoader): Value not in list" in output
    assert "qwen_image_edit_fp8_e4m3fn.safetensors" in output


def test_token_create_prints_a_token_the_api_accepts(tmp_path: Path) -> None:
    result = rekindle(
        "token",
        "create",
        "--user",
        "carol",
        "--email",
        "c@example.com",
        "--ttl",
        "120",
        env={"REKINDLE_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    verifier = TokenVerifier(Settings(_env_file=None, rekindle_data_dir=tmp_path))  # type: ignore[call-arg]
    identity = verifier.verify(result.stdout.strip())
    assert (identity.subject, identity.email) == ("carol", "c@example.com")
    refused = rekindle(
        "token",
        "create",
        "--user",
        "carol",
        env={
            "REKINDLE_DATA_DIR": str(tmp_path),
            "AUTH_HS256_SECRET": "x" * 32,
            "AUTH_AUDIENCE": "authenticated",
        },
    )
    assert refused.returncode != 0 and "identity provider" in refused.stderr


def test_migrate_postgres_and_sqlite(tmp_path: Path) -> None:
    import sqlalchemy as sa

    with postgres_database() as url:
        for _ in range(2):  # idempotent
            result = rekindle("migrate", env={"DATABASE_URL": url})
            assert result.returncode == 0, result.stderr
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
        engine.dispose()
        assert {"users", "photos", "restore_attempts", "animation_attempts"} <= tables
    result = rekindle("migrate", env={"REKINDLE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0 and (tmp_path / "rekindle.sqlite3").exists()
