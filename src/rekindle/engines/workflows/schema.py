"""Check a ComfyUI API-format workflow against a server's node schema (`GET /object_info`).

ComfyUI validates a submitted graph in `execution.py` (`validate_inputs`) and answers a failure
with 400 and `node_errors`; this module asks the same questions without a GPU or a server, so that
a shipped workflow is checked in the tests (against `../shared/comfyui/object_info-v0.33.0.json`)
and an operator's `COMFYUI_WORKFLOW` at start-up (against the configured server's schema):

- every node's `class_type` exists;
- every input name is one the class declares (required, optional), and every required input is
  given;
- a literal has the declared type (INT, FLOAT, BOOLEAN, STRING, or one of a combo's options) and
  lies within `min`/`max`;
- a link `[node_id, slot]` points at an existing node and an output slot whose type is the
  input's type (`*` matches anything).

Model-file combos (a value ending in `.safetensors`, `.ckpt`, `.pt`, `.gguf`, ...) and
inputs the engine binds at run time (`_rekindle.inputs`, e.g. the uploaded image's name) are not
checked against the server's list: they depend on the files that server holds (the reference
schema was taken without weights).

Schema shapes (ComfyUI `nodes.py`/`comfy_api`): an input spec is `[TYPE, {options}]` with TYPE a
string (`"INT"`, `"IMAGE"`, `"COMBO"` with `options["options"]`) or a list (the combo's values).
"""

from __future__ import annotations

from typing import Any

from rekindle.engines.workflows import Workflow

MODEL_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf")
_NUMBER_TYPES: dict[str, type | tuple[type, ...]] = {"INT": int, "FLOAT": (int, float)}


def validate(workflow: Workflow, object_info: dict[str, Any]) -> list[str]:
    """Problems found in `workflow` (its graph without `_` keys) against `object_info`; empty when
    ComfyUI would accept it. Each problem reads `node <id> (<class>): <what>`."""
    graph = workflow.graph
    bound = {(node_id, field) for node_id, field in workflow.inputs.values()}
    problems: list[str] = []
    for node_id, node in graph.items():
        class_type = node.get("class_type")
        schema = object_info.get(class_type) if isinstance(class_type, str) else None
        where = f"node {node_id} ({class_type})"
        if not isinstance(schema, dict):
            problems.append(f"{where}: class_type does not exist on this server")
            continue
        declared = schema.get("input") or {}
        required = declared.get("required") or {}
        optional = declared.get("optional") or {}
        inputs = node.get("inputs") or {}
        for name in required:
            if name not in inputs and (node_id, name) not in bound:
                problems.append(f"{where}: required input {name!r} is missing")
        for name, value in inputs.items():
            spec = required.get(name, optional.get(name))
            if spec is None:
                problems.append(f"{where}: no input named {name!r}")
                continue
            # A value the engine writes at run time (an uploaded file name): no combo list check.
            runtime = (node_id, name) in bound
            found = _check(name, value, spec, graph, object_info, runtime=runtime)
            problems += [f"{where}: {p}" for p in found]
    return problems


def _check(
    name: str,
    value: Any,
    spec: Any,
    graph: dict[str, Any],
    object_info: dict[str, Any],
    *,
    runtime: bool = False,
) -> list[str]:
    kind, options = _spec(spec)
    if _is_link(value):
        source_id, slot = str(value[0]), value[1]
        source = graph.get(source_id)
        if not isinstance(source, dict):
            return [f"{name!r} links to missing node {source_id}"]
        outputs = (object_info.get(str(source.get("class_type"))) or {}).get("output") or []
        if not isinstance(slot, int) or not 0 <= slot < len(outputs):
            return [f"{name!r} links to output {slot} of node {source_id}, which has none"]
        out_type = outputs[slot]
        expected = "COMBO" if isinstance(kind, list) else kind
        if out_type != expected and "*" not in (out_type, expected):
            return [f"{name!r} wants {expected}, linked output {source_id}:{slot} is {out_type}"]
        return []
    if kind == "COMFY_DYNAMICCOMBO_V3":  # v3 combo whose options are {"key", "inputs"}
        keys = [o.get("key") for o in options.get("options") or [] if isinstance(o, dict)]
        if keys and value not in keys:
            return [f"{name!r} value {value!r} is not one of {keys[:8]}"]
        return []
    if isinstance(kind, str) and kind.startswith("COMFY_"):  # other v3 dynamic inputs
        return []
    if isinstance(kind, list) or kind == "COMBO":
        choices = kind if isinstance(kind, list) else options.get("options") or []
        # A model file: the list is the server's models folder, not part of the schema.
        files = isinstance(value, str) and value.lower().endswith(MODEL_SUFFIXES)
        if choices and not runtime and not files and value not in choices:
            return [f"{name!r} value {value!r} is not one of {choices[:8]}"]
        return []
    if kind in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES[kind]):
            return [f"{name!r} must be {kind}, got {value!r}"]
        if "min" in options and value < options["min"]:
            return [f"{name!r} value {value} is smaller than min {options['min']}"]
        if "max" in options and value > options["max"]:
            return [f"{name!r} value {value} is bigger than max {options['max']}"]
        return []
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return [f"{name!r} must be BOOLEAN, got {value!r}"]
    if kind == "STRING" and not isinstance(value, str):
        return [f"{name!r} must be STRING, got {value!r}"]
    if kind not in ("INT", "FLOAT", "BOOLEAN", "STRING") and not isinstance(kind, list):
        return [f"{name!r} wants a link to a {kind} output, got the literal {value!r}"]
    return []


def _spec(spec: Any) -> tuple[Any, dict[str, Any]]:
    """(type, options) of an input spec: `["INT", {...}]`, `[["a", "b"], {...}]`, `["IMAGE"]`."""
    if isinstance(spec, list | tuple) and spec:
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        return spec[0], options
    return spec, {}


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )
