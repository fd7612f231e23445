"""ComfyUI workflows shipped with Rekindle, and how their named inputs are bound.

A workflow is a ComfyUI graph in API format (ComfyUI: Workflow > Export (API)): an object from node
id to `{"class_type": ..., "inputs": {...}}`. Rekindle adds one top-level key, `_rekindle`, that
names the inputs an engine may set and where each one lives:

    "_rekindle": {
      "inputs":   {"image": ["1", "image"], "denoise": ["8", "denoise"], "seed": ["8", "seed"],
                   "megapixels": ["2", "megapixels"], "prompt": ["6", "text"]},
      "defaults": {"megapixels": 1.0, "prompt": "restored old photograph, ..."},
      "output":   "10"
    }

`inputs` maps an input name to `[node_id, input_field]`; binding writes the value into
`graph[node_id]["inputs"][input_field]`. `defaults` are bound when the caller gives no value.
`output` (optional) names the node whose saved files are the result; without it the first output
node with files is used. Every top-level key starting with `_` is removed before submission.

Packaged: `restore-qwen-image-edit.json` (the default restore workflow of `comfyui` and `runpod`:
Qwen-Image-Edit with core nodes; image, megapixels, prompt, seed), `restore.json` (SDXL img2img,
the alternative: image, denoise, megapixels, seed, prompt) and `animate.json` (image, prompt, width,
height, length in frames, fps, seed). `COMFYUI_WORKFLOW` and `RUNPOD_ANIMATION_WORKFLOW` name a
packaged file (`restore.json`) or point to other files written the same way. A restore workflow
may also declare a `mask` input (a LoadImage or LoadImageMask node): the engine uploads the user's
damage mask like the photo and binds its name there.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

META_KEY = "_rekindle"
DEFAULT_RESTORE = "restore-qwen-image-edit.json"
"""The packaged restore workflow `comfyui` and `runpod` use unless COMFYUI_WORKFLOW names another."""


class WorkflowError(ValueError):
    """A workflow file is missing, not JSON, or names an input that is not in its graph."""


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow: the graph (API format, without `_` keys) and its named inputs."""

    graph: dict[str, Any]
    inputs: dict[str, tuple[str, str]]
    defaults: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    source: str = ""

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """A copy of the graph with `values` (then `defaults`) written into the named inputs.

        Names the workflow does not declare are ignored (a workflow may take no prompt); the
        `image` input is required.
        """
        if "image" not in self.inputs:
            raise WorkflowError(f"{self.source}: the workflow declares no 'image' input")
        graph = copy.deepcopy(self.graph)
        merged = {**self.defaults, **{k: v for k, v in values.items() if v is not None}}
        for name, value in merged.items():
            if name in self.inputs:
                node_id, input_field = self.inputs[name]
                graph[node_id]["inputs"][input_field] = value
        return graph

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.source else "workflow"


def parse(document: dict[str, Any], source: str) -> Workflow:
    """Validate a workflow document and split it into graph and named inputs."""
    if not isinstance(document, dict):
        raise WorkflowError(f"{source}: a workflow must be a JSON object")
    meta = document.get(META_KEY) or {}
    graph = {k: v for k, v in document.items() if not k.startswith("_")}
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node:
            raise WorkflowError(f"{source}: node {node_id} has no class_type (API format needed)")
        node.setdefault("inputs", {})
    inputs: dict[str, tuple[str, str]] = {}
    for name, target in (meta.get("inputs") or {}).items():
        if not (isinstance(target, list | tuple) and len(target) == 2):
            raise WorkflowError(f"{source}: input {name!r} must be [node_id, field]")
        node_id, input_field = str(target[0]), str(target[1])
        if node_id not in graph:
            raise WorkflowError(f"{source}: input {name!r} names missing node {node_id}")
        inputs[name] = (node_id, input_field)
    output = meta.get("output")
    if output is not None and str(output) not in graph:
        raise WorkflowError(f"{source}: output node {output} is not in the graph")
    return Workflow(
        graph=graph,
        inputs=inputs,
        defaults=dict(meta.get("defaults") or {}),
        output=str(output) if output is not None else None,
        source=source,
    )


def load(path: Path | str | None, packaged: str) -> Workflow:
    """The workflow at `path`, or the packaged file `packaged` (e.g. "restore.json")."""
    packaged_names = {
        p.name for p in resources.files(__name__).iterdir() if p.name.endswith(".json")
    }
    if path is not None and not Path(path).exists() and str(path) in packaged_names:
        path, packaged = None, str(path)  # a packaged workflow named by its file name
    try:
        if path is not None:
            text = Path(path).read_text(encoding="utf-8")
            source = str(path)
        else:
            text = resources.files(__name__).joinpath(packaged).read_text(encoding="utf-8")
            source = packaged
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"cannot load workflow {path or packaged}: {exc}") from exc
    return parse(document, source)


def supported_options(workflow: Workflow) -> frozenset[str]:
    """The request options (`engines.base.RESTORE_OPTIONS`) a restore workflow can take.

    `seed`, `prompt` and `mask` each need an input of that name. Colourisation is asked for in words,
    so it needs a `prompt` input; so does denoise when the workflow has no `denoise` input (the
    grain is then asked for in words too, as on SiliconFlow).
    """
    declared = set(workflow.inputs)
    options: set[str] = {n for n in ("denoise", "seed", "prompt", "mask") if n in declared}
    if "prompt" in declared:
        options |= {"colorize", "denoise"}
    return frozenset(options)
