"""ComfyUI restoration engine: a workflow run on a ComfyUI server (seed 003/004).

Protocol (ComfyUI's own server routes, https://docs.comfy.org/development/comfyui-server/comms_routes
and messages, https://docs.comfy.org/development/comfyui-server/comms_messages, checked against
ComfyUI's `server.py`):

1. `GET /ws?clientId={client_id}` opened first, so no event is missed.
2. `POST /upload/image`, multipart field `image` (+ `subfolder=rekindle`, `overwrite=true`), named
   `{prompt_id}-image.jpg` (and `{prompt_id}-mask.png` for a workflow with a `mask` input)
   -> `{"name", "subfolder", "type"}`.
3. `POST /prompt` `{"prompt": graph, "client_id": client_id, "prompt_id": our_uuid}`
   -> 200 `{"prompt_id", "number", "node_errors"}` or 400 `{"error": {...}, "node_errors": {...}}`.
4. Websocket events for our prompt: `execution_start`, `execution_cached`, `executing`
   (`node: null` = finished), `executed`, `execution_success`, `execution_error`,
   `execution_interrupted`; binary frames are previews and are ignored.
   When the socket is silent for `COMFYUI_POLL_INTERVAL` seconds (or gone), `GET /history/{id}` and
   `GET /queue` are asked over HTTP instead.
5. `GET /view?filename=&subfolder=&type=` for the output image; then `POST /history
   {"delete": [prompt_id]}` (also after a failure): the server keeps no history of ours. ComfyUI has
   no route to delete input or output files; docs/engines.md says how an operator prunes them.
6. On our time limit (`COMFYUI_TIMEOUT`, 300 s: seed 003's five minutes): `POST /interrupt
   {"prompt_id"}` when it is running (ComfyUI interrupts only that prompt), `POST /queue
   {"delete": [id]}` when it is still pending; then provider_timeout.

Blame: a fault of the workflow or the server (a missing node class, a value out of range, a model
file that is not there, out of memory while a node runs) is `provider_workflow_error` ("Service
configuration error"); only a failure of the node that loads the user's image (or mask) is
`provider_rejected_image`. Every EngineError carries the `prompt_id` in its params.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from contextlib import ExitStack
from typing import Any, ClassVar

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from rekindle.config import Settings
from rekindle.engines import http, workflows
from rekindle.engines.base import (
    PROVIDER_BAD_IMAGE,
    PROVIDER_BAD_RESULT,
    PROVIDER_TIMEOUT,
    PROVIDER_UNAVAILABLE,
    PROVIDER_WORKFLOW,
    EngineError,
    EngineResult,
    RestoreRequest,
)

log = logging.getLogger(__name__)

PROVIDER = "comfyui"
COLORIZE_PROMPT = "colorized, natural realistic colours"
KEEP_GRAIN_PROMPT = "keep the natural film grain"
REMOVE_NOISE_PROMPT = "remove film grain and noise thoroughly"
UPLOAD_SUBFOLDER = "rekindle"
"""Our inputs go to `ComfyUI/input/rekindle/`, apart from everybody else's."""
OOM_WORDS = ("out of memory", "outofmemory")
MAX_SEED = 2**32 - 1
ABORT_TIMEOUT = 5.0
"""Seconds allowed to each best-effort request that cancels our prompt."""


def workflow_prompt(workflow: workflows.Workflow, request: RestoreRequest) -> str | None:
    """The workflow's default prompt with the colourise option, the grain wish (when the workflow
    has no `denoise` input of its own) and the user's text appended, or None (the workflow's
    default applies) when there is nothing to add."""
    extra = []
    if request.colorize:
        extra.append(COLORIZE_PROMPT)
    if "denoise" not in workflow.inputs:
        if request.denoise <= 0.2:
            extra.append(KEEP_GRAIN_PROMPT)
        elif request.denoise >= 0.8:
            extra.append(REMOVE_NOISE_PROMPT)
    if request.prompt and request.prompt.strip():
        extra.append(request.prompt.strip())
    if not extra:
        return None
    base = str(workflow.defaults.get("prompt") or "")
    return ", ".join([base, *extra]) if base else ", ".join(extra)


def request_values(workflow: workflows.Workflow, request: RestoreRequest) -> dict[str, Any]:
    """The values of the request the workflow has inputs for (image and mask excepted): only what
    is declared is sent, and only what is sent is recorded. `megapixels` and any other default
    comes from the workflow's own `defaults`."""
    declared = workflow.inputs
    values: dict[str, Any] = {}
    if "denoise" in declared:
        values["denoise"] = min(max(float(request.denoise), 0.0), 1.0)
    if "seed" in declared:
        values["seed"] = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
    if "prompt" in declared:
        values["prompt"] = workflow_prompt(workflow, request)
    return values


def sent_params(workflow: workflows.Workflow, values: dict[str, Any]) -> dict[str, Any]:
    """What the bound graph holds for each declared input (the request's value, else the
    workflow's default), image and mask names excepted."""
    merged = {**workflow.defaults, **{k: v for k, v in values.items() if v is not None}}
    return {
        name: merged[name]
        for name in workflow.inputs
        if name not in ("image", "mask") and name in merged
    }


def blame_node_errors(body: Any, image_nodes: set[str]) -> tuple[str, str]:
    """Who is at fault for ComfyUI's 400: the image only when every node error is on a node that
    loads the user's image or mask; else the workflow (missing node, bad value, missing file)."""
    node_errors = body.get("node_errors") if isinstance(body, dict) else None
    if isinstance(node_errors, dict) and node_errors and set(node_errors) <= image_nodes:
        return PROVIDER_BAD_IMAGE
    return PROVIDER_WORKFLOW


def blame_execution_error(data: dict[str, Any], image_nodes: set[str]) -> tuple[str, str]:
    """Who is at fault for an `execution_error`: out of memory is the server's sizing; a failure
    in the node that loads the user's image or mask is the image's; any other is the workflow's."""
    text = f"{data.get('exception_type', '')} {data.get('exception_message', '')}".lower()
    if any(word in text for word in OOM_WORDS):
        return PROVIDER_WORKFLOW
    if str(data.get("node_id")) in image_nodes:
        return PROVIDER_BAD_IMAGE
    return PROVIDER_WORKFLOW


def node_errors_text(body: Any) -> str:
    """One line from ComfyUI's 400 body: `error` (type, message, details) and each node's errors."""
    if not isinstance(body, dict):
        return str(body)[:500]
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, dict):
        parts.append(
            ": ".join(
                str(x) for x in (error.get("type"), error.get("message"), error.get("details")) if x
            )
        )
    elif error:
        parts.append(str(error))
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, node in node_errors.items():
            if not isinstance(node, dict):
                parts.append(f"node {node_id}: {node}")
                continue
            class_type = node.get("class_type", "?")
            for err in node.get("errors") or []:
                if isinstance(err, dict):
                    text = err.get("message", "")
                    if err.get("details"):
                        text += f" ({err['details']})"
                else:
                    text = str(err)
                parts.append(f"node {node_id} ({class_type}): {text}")
    return "; ".join(p for p in parts if p) or json.dumps(body)[:500]


class ComfyUIEngine:
    """Restores a photo by running a workflow on a ComfyUI server. Thread-safe, shared per process.

    Settings: COMFYUI_URL, COMFYUI_WORKFLOW (a workflow file instead of the packaged restore.json),
    COMFYUI_TIMEOUT (seconds for the whole restoration), COMFYUI_POLL_INTERVAL (seconds),
    COMFYUI_MAX_IN_FLIGHT.
    """

    name: ClassVar[str] = "comfyui"

    def __init__(
        self,
        *,
        base_url: str,
        workflow: workflows.Workflow,
        timeout: float,
        poll_interval: float,
        max_in_flight: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.workflow = workflow
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.client = http.make_client(
            timeout=timeout, max_connections=max_in_flight, base_url=self.base_url
        )
        self.in_flight = http.InFlight(PROVIDER, max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> ComfyUIEngine:
        return cls(
            base_url=settings.comfyui_url or "",
            workflow=workflows.load(settings.comfyui_workflow, workflows.DEFAULT_RESTORE),
            timeout=settings.comfyui_timeout,
            poll_interval=settings.comfyui_poll_interval,
            max_in_flight=settings.comfyui_max_in_flight,
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        """True when COMFYUI_URL is set."""
        return bool(settings.comfyui_url)

    @staticmethod
    def time_limit(settings: Settings) -> float:
        """The longest one restoration may take, seconds (COMFYUI_TIMEOUT, then best-effort
        clean-up requests)."""
        return settings.comfyui_timeout + 2 * ABORT_TIMEOUT

    def close(self) -> None:
        self.client.close()

    @property
    def image_nodes(self) -> set[str]:
        """The nodes that load the user's image or mask."""
        return {self.workflow.inputs[n][0] for n in ("image", "mask") if n in self.workflow.inputs}

    def cancel_remote(self, ref: dict[str, Any]) -> bool:
        """Stop prompt `ref["prompt_id"]` (the sweep, after the worker died) and drop its
        history. Never raises."""
        prompt_id = ref.get("prompt_id")
        if not isinstance(prompt_id, str) or not prompt_id:
            return False
        sent = self._abort(prompt_id)
        self._forget(prompt_id)
        return sent

    # --- the restoration ------------------------------------------------------------------------

    def supported_options(self) -> frozenset[str]:
        """The options the workflow declares inputs for (see `workflows.supported_options`)."""
        return workflows.supported_options(self.workflow)

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Upload, submit, follow, fetch, forget. Raises EngineError (its params name the
        `prompt_id`):

        provider_workflow_error: ComfyUI's 400 (`node_errors`) or an `execution_error` caused by
        the workflow or the server (missing node or model file, bad value, out of memory);
        provider_rejected_image: the same, in the node that loads the user's image or mask;
        provider_timeout: not finished within COMFYUI_TIMEOUT seconds (the prompt is interrupted);
        provider_unavailable: network failure, 5xx, `execution_interrupted`, a prompt that vanished;
        provider_bad_result: malformed JSON, no output image, an output that is not an image.
        """
        deadline = time.monotonic() + self.timeout
        prompt_id = str(uuid.uuid4())
        trace = {"provider": PROVIDER, "workflow": self.workflow.name, "prompt_id": prompt_id}
        submitted = False
        try:
            with self.in_flight.slot(self.timeout):
                started = time.monotonic()
                client_id = uuid.uuid4().hex
                values = request_values(self.workflow, request)
                with ExitStack() as stack:
                    ws = self._open_socket(stack, client_id, deadline)
                    uploads = {"image": self._upload(request.image, prompt_id, "image", deadline)}
                    if request.mask is not None and "mask" in self.workflow.inputs:
                        uploads["mask"] = self._upload(request.mask, prompt_id, "mask", deadline)
                    graph = self.workflow.bind({**values, **uploads})
                    submitted = True  # from here on, a history entry may exist
                    self._submit(graph, client_id, prompt_id, deadline)
                    if request.on_submitted is not None:
                        request.on_submitted({"prompt_id": prompt_id})
                    entry = self._wait(ws, prompt_id, deadline)
                    data = self._fetch_output(entry, deadline)
                elapsed = time.monotonic() - started
            content_type = http.check_image(PROVIDER, data)
        except EngineError as exc:
            exc.params.update(trace)
            raise
        finally:
            if submitted:
                self._forget(prompt_id)
        params = {
            **trace,
            **sent_params(self.workflow, values),
            "mask": "mask" in uploads,
            "elapsed_seconds": round(elapsed, 3),
        }
        return EngineResult(
            data=data,
            content_type=content_type,
            model=f"comfyui/{self.workflow.name}",
            params=params,
        )

    # --- HTTP steps -----------------------------------------------------------------------------

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise http.engine_error(PROVIDER_TIMEOUT, f"{PROVIDER}: time limit {self.timeout}s")
        return remaining

    def _upload(self, image: bytes, prompt_id: str, role: str, deadline: float) -> str:
        """Upload `image` as `rekindle/{prompt_id}-{role}.{ext}`; the name LoadImage takes."""
        mime = http.image_mime(image)
        filename = f"{prompt_id}-{role}.{mime.split('/')[1].replace('jpeg', 'jpg')}"
        response = http.send(
            self.client,
            PROVIDER,
            "POST",
            "/upload/image",
            files={"image": (filename, image, mime)},
            data={"overwrite": "true", "subfolder": UPLOAD_SUBFOLDER, "type": "input"},
            timeout=self._remaining(deadline),
        )
        body = http.json_body(PROVIDER, response)
        if not isinstance(body, dict) or not body.get("name"):
            raise http.engine_error(PROVIDER_BAD_RESULT, f"{PROVIDER}: upload answered {body!r}")
        subfolder = body.get("subfolder") or ""
        return f"{subfolder}/{body['name']}" if subfolder else str(body["name"])

    def _submit(
        self, graph: dict[str, Any], client_id: str, prompt_id: str, deadline: float
    ) -> None:
        payload = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        try:
            response = http.request(
                self.client,
                "POST",
                "/prompt",
                json=payload,
                timeout=httpx.Timeout(self._remaining(deadline)),
            )
        except httpx.HTTPError as exc:
            raise http.error_for_transport(PROVIDER, exc) from exc
        if response.status_code == 400:
            try:
                body = response.json()
                text = node_errors_text(body)
            except ValueError:
                body, text = None, response.text[:500]
            kind = blame_node_errors(body, self.image_nodes)
            raise http.engine_error(kind, f"{PROVIDER} rejected the workflow: {text}")
        if response.is_error:
            raise http.error_for_status(PROVIDER, response)
        body = http.json_body(PROVIDER, response)
        if isinstance(body, dict) and body.get("prompt_id") not in (None, prompt_id):
            self._abort(str(body["prompt_id"]))  # queued already: it must not run for nothing
            raise http.engine_error(
                PROVIDER_BAD_RESULT,
                f"{PROVIDER}: server ignored our prompt_id (got {body.get('prompt_id')}); "
                "ComfyUI too old to accept a client-chosen prompt_id",
            )

    def _history_entry(self, prompt_id: str, deadline: float) -> dict[str, Any] | None:
        response = http.send(
            self.client,
            PROVIDER,
            "GET",
            f"/history/{prompt_id}",
            timeout=self._remaining(deadline),
        )
        body = http.json_body(PROVIDER, response)
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        return entry if isinstance(entry, dict) else None

    def _queue_state(self, prompt_id: str, timeout: float) -> str | None:
        """ "running", "pending", or None when our prompt is in neither list of `GET /queue`."""
        response = http.send(self.client, PROVIDER, "GET", "/queue", timeout=timeout)
        body = http.json_body(PROVIDER, response)
        if not isinstance(body, dict):
            return None
        for state, key in (("running", "queue_running"), ("pending", "queue_pending")):
            for item in body.get(key) or []:
                if isinstance(item, list | tuple) and len(item) > 1 and item[1] == prompt_id:
                    return state
        return None

    # --- following the prompt ------------------------------------------------------------------

    def _open_socket(
        self, stack: ExitStack, client_id: str, deadline: float
    ) -> ClientConnection | None:
        """The websocket, closed with `stack`; None when it cannot be opened (then we poll)."""
        ws_url = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        try:
            return stack.enter_context(
                connect(
                    f"{ws_url}/ws?clientId={client_id}",
                    open_timeout=min(max(deadline - time.monotonic(), 0.001), 10.0),
                    max_size=None,
                    close_timeout=1.0,
                )
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            log.warning("comfyui websocket unavailable, polling over HTTP: %s", exc)
            return None

    def _wait(self, ws: ClientConnection | None, prompt_id: str, deadline: float) -> dict[str, Any]:
        """Follow our prompt until it finishes; return its `/history` entry. Raises EngineError,
        after interrupting (or dropping) the prompt: we stop following it, so it must not go on
        holding the GPU."""
        try:
            return self._follow(ws, prompt_id, deadline)
        except EngineError:
            self._abort(prompt_id)
            raise

    def _follow(
        self, ws: ClientConnection | None, prompt_id: str, deadline: float
    ) -> dict[str, Any]:
        last_progress = time.monotonic()
        missing = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise http.engine_error(
                    PROVIDER_TIMEOUT, f"{PROVIDER}: prompt {prompt_id} not done in {self.timeout}s"
                )
            wait = min(self.poll_interval, remaining)
            if ws is not None:
                try:
                    message = ws.recv(timeout=wait)
                except TimeoutError:
                    message = None
                except ConnectionClosed as exc:
                    log.warning("comfyui websocket closed, polling over HTTP: %s", exc)
                    ws = None
                    message = None
                if isinstance(message, str):
                    try:
                        event = json.loads(message)
                    except ValueError:
                        event = None
                    if isinstance(event, dict) and _event_prompt(event) == prompt_id:
                        last_progress = time.monotonic()
                        if self._on_event(event, prompt_id):
                            return self._finished_entry(prompt_id, deadline)
            else:
                time.sleep(wait)
            if time.monotonic() - last_progress < self.poll_interval:
                continue
            # The socket has said nothing about our prompt for a while: ask over HTTP.
            last_progress = time.monotonic()
            entry = self._history_entry(prompt_id, deadline)
            if entry is not None and _entry_finished(entry, prompt_id, self.image_nodes):
                return entry
            if entry is None:
                state = self._queue_state(prompt_id, self._remaining(deadline))
                missing = missing + 1 if state is None else 0
                if missing >= 2:
                    raise http.engine_error(
                        PROVIDER_UNAVAILABLE,
                        f"{PROVIDER}: prompt {prompt_id} is neither queued nor in history",
                    )

    def _on_event(self, event: dict[str, Any], prompt_id: str) -> bool:
        """True when the event says our prompt finished; raises on its failure events."""
        kind = event.get("type")
        data = event.get("data") or {}
        if kind == "execution_error":
            raise http.engine_error(
                blame_execution_error(data, self.image_nodes),
                f"{PROVIDER} {_execution_error_text(data)}",
            )
        if kind == "execution_interrupted":
            raise http.engine_error(
                PROVIDER_UNAVAILABLE,
                f"{PROVIDER}: prompt {prompt_id} interrupted at node {data.get('node_id')}",
            )
        if kind == "execution_success":
            return True
        return kind == "executing" and data.get("node") is None

    def _finished_entry(self, prompt_id: str, deadline: float) -> dict[str, Any]:
        """The history entry once the socket said "done": ComfyUI sends `execution_success` before
        it writes the entry, so it may take a moment to appear."""
        while True:
            entry = self._history_entry(prompt_id, deadline)
            if entry is not None and _entry_finished(entry, prompt_id, self.image_nodes):
                return entry
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))

    def _abort(self, prompt_id: str) -> bool:
        """Best effort: interrupt our prompt if it runs, drop it if it waits. True when a request
        was accepted; never raises."""
        try:
            state = self._queue_state(prompt_id, ABORT_TIMEOUT)
        except EngineError:
            state = "running"  # unknown: a targeted interrupt is harmless to other prompts
        try:
            if state == "running":
                response = self.client.post(
                    "/interrupt", json={"prompt_id": prompt_id}, timeout=ABORT_TIMEOUT
                )
            elif state == "pending":
                response = self.client.post(
                    "/queue", json={"delete": [prompt_id]}, timeout=ABORT_TIMEOUT
                )
            else:
                return False
            return response.is_success
        except httpx.HTTPError as exc:
            log.warning("comfyui: could not cancel prompt %s: %s", prompt_id, exc)
            return False

    def _forget(self, prompt_id: str) -> None:
        """Best effort: `POST /history {"delete": [prompt_id]}`. Never raises."""
        try:
            self.client.post("/history", json={"delete": [prompt_id]}, timeout=ABORT_TIMEOUT)
        except httpx.HTTPError as exc:
            log.warning("comfyui: could not delete history of prompt %s: %s", prompt_id, exc)

    # --- the result -----------------------------------------------------------------------------

    def _fetch_output(self, entry: dict[str, Any], deadline: float) -> bytes:
        """GET /view for the workflow's output image."""
        ref = _output_file(entry, self.workflow.output)
        response = http.send(
            self.client,
            PROVIDER,
            "GET",
            "/view",
            params={
                "filename": ref.get("filename", ""),
                "subfolder": ref.get("subfolder", ""),
                "type": ref.get("type", "output"),
            },
            timeout=self._remaining(deadline),
        )
        return response.content


def _event_prompt(event: dict[str, Any]) -> str | None:
    data = event.get("data")
    return data.get("prompt_id") if isinstance(data, dict) else None


def _execution_error_text(data: dict[str, Any]) -> str:
    return (
        f"execution_error in node {data.get('node_id')} ({data.get('node_type')}): "
        f"{data.get('exception_type', '')}: {data.get('exception_message', '')}".strip()
    )


def _entry_finished(entry: dict[str, Any], prompt_id: str, image_nodes: set[str]) -> bool:
    """Whether a `/history` entry is final; raises EngineError when it records a failure."""
    status = entry.get("status")
    if not isinstance(status, dict):
        return bool(entry.get("outputs"))
    if status.get("status_str") == "error":
        for message in status.get("messages") or []:
            if isinstance(message, list | tuple) and len(message) == 2:
                kind, data = message
                if kind == "execution_error" and isinstance(data, dict):
                    raise http.engine_error(
                        blame_execution_error(data, image_nodes),
                        f"{PROVIDER} {_execution_error_text(data)}",
                    )
                if kind == "execution_interrupted":
                    raise http.engine_error(
                        PROVIDER_UNAVAILABLE, f"{PROVIDER}: prompt {prompt_id} interrupted"
                    )
        raise http.engine_error(PROVIDER_WORKFLOW, f"{PROVIDER}: prompt {prompt_id} failed")
    return bool(status.get("completed"))


def _output_file(entry: dict[str, Any], preferred: str | None) -> dict[str, Any]:
    """The first saved file (type "output" before "temp") of the preferred node, else any node."""
    outputs = entry.get("outputs")
    if not isinstance(outputs, dict):
        outputs = {}
    order = ([preferred] if preferred in outputs else []) + [k for k in outputs if k != preferred]
    candidates: list[dict[str, Any]] = []
    for node_id in order:
        node = outputs.get(node_id)
        if not isinstance(node, dict):
            continue
        for key in ("images", "gifs", "videos"):
            for ref in node.get(key) or []:
                if isinstance(ref, dict) and ref.get("filename"):
                    candidates.append(ref)
    for ref in candidates:
        if ref.get("type", "output") == "output":
            return ref
    if candidates:
        return candidates[0]
    raise http.engine_error(PROVIDER_BAD_RESULT, f"{PROVIDER}: the workflow saved no image")
