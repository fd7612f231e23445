"""Every shipped ComfyUI workflow against the node schema of a real ComfyUI v0.33.0.

The schema is `../shared/comfyui/object_info-v0.33.0.json` (what `GET /object_info` answered on
that server; see its README). These tests skip when the shared folder is absent.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from rekindle.engines import workflows
from rekindle.engines.workflows.schema import validate
from tests.support.services import REPO_ROOT

SCHEMA = REPO_ROOT.parent / "shared" / "comfyui" / "object_info-v0.33.0.json"
SHIPPED = sorted(p.name for p in resources.files(workflows).iterdir() if p.name.endswith(".json"))


@pytest.fixture(scope="module")
def object_info() -> dict[str, Any]:
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} is absent: the shared ComfyUI schema lives beside the repository")
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_every_packaged_workflow_is_checked() -> None:
    assert {"restore-qwen-image-edit.json", "restore.json", "animate.json"} <= set(SHIPPED)
    assert workflows.DEFAULT_RESTORE == "restore-qwen-image-edit.json"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_workflow_passes_the_v0_33_schema(name: str, object_info: dict[str, Any]) -> None:
    assert validate(workflows.load(None, name), object_info) == []


def test_qwen_workflow_uses_core_nodes_and_the_example_model_files() -> None:
    graph = workflows.load(None, "restore-qwen-image-edit.json").graph
    by_class = {node["class_type"]: node["inputs"] for node in graph.values()}
    assert "TextEncodeQwenImageEdit" in by_class
    # File names exactly as ComfyUI's own Qwen-Image-Edit example names them.
    assert by_class["UNETLoader"]["unet_name"] == "qwen_image_edit_fp8_e4m3fn.safetensors"
    assert by_class["CLIPLoader"]["clip_name"] == "qwen_2.5_vl_7b_fp8_scaled.safetensors"
    assert by_class["CLIPLoader"]["type"] == "qwen_image"
    assert by_class["VAELoader"]["vae_name"] == "qwen_image_vae.safetensors"


def _broken(mutate: Any) -> workflows.Workflow:
    document = json.loads(
        (resources.files(workflows) / "restore-qwen-image-edit.json").read_text(encoding="utf-8")
    )
    mutate(document)
    return workflows.parse(copy.deepcopy(document), "broken.json")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["8"].update(class_type="KSamplerPlus"), "class_type does not exist"),
        (lambda d: d["8"]["inputs"].update(cfgg=2.0), "no input named 'cfgg'"),
        (lambda d: d["8"]["inputs"].pop("steps"), "required input 'steps' is missing"),
        (lambda d: d["8"]["inputs"].update(steps=0), "smaller than min 1"),
        (lambda d: d["8"]["inputs"].update(denoise=1.5), "bigger than max 1.0"),
        (lambda d: d["8"]["inputs"].update(steps="20"), "must be INT"),
        (lambda d: d["8"]["inputs"].update(sampler_name="nope"), "is not one of"),
        (lambda d: d["8"]["inputs"].update(positive=["5", 0]), "wants CONDITIONING"),
        (lambda d: d["8"]["inputs"].update(model=["99", 0]), "missing node 99"),
        (lambda d: d["9"]["inputs"].update(samples=["8", 3]), "which has none"),
    ],
    ids=[
        "unknown-class",
        "unknown-input",
        "missing-required",
        "below-min",
        "above-max",
        "wrong-type",
        "not-in-combo",
        "wrong-link-type",
        "link-to-nothing",
        "no-such-output",
    ],
)
def test_the_validator_catches_what_comfyui_would_refuse(
    object_info: dict[str, Any], mutate: Any, expected: str
) -> None:
    problems = validate(_broken(mutate), object_info)
    assert any(expected in p for p in problems), problems


def test_a_user_workflow_file_is_checked_the_same_way(
    object_info: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "mine.json"
    document = json.loads((resources.files(workflows) / "restore.json").read_text(encoding="utf-8"))
    document["2"]["inputs"]["megapixels"] = 99.0
    path.write_text(json.dumps(document))
    problems = validate(workflows.load(path, "restore.json"), object_info)
    assert problems == [
        "node 2 (ImageScaleToTotalPixels): 'megapixels' value 99.0 is bigger than max 16.0"
    ]
