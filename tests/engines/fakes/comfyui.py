"""A fake ComfyUI server: HTTP routes and the `/ws` websocket on one port.

Follows ComfyUI's `server.py` and https://docs.comfy.org/development/comfyui-server/comms_routes /
comms_messages: `POST /upload/image` (multipart `image`, `overwrite`) -> `{"name", "subfolder",
"type"}`; `POST /prompt` `{"prompt", "client_id", "prompt_id"}` -> `{"prompt_id", "number",
"node_errors"}` or 400 `{"error": {"type", "message", "details", "extra_info"}, "node_errors"}`;
`GET /history/{id}`; `GET /queue` -> `{"queue_running": [[number, id, prompt, extra, outputs]],
"queue_pending": [...]}`; `POST /queue {"delete": [...]}`; `POST /interrupt {"prompt_id"}`;
`POST /history {"delete": [...]}` / `{"clear": true}`; `GET /object_info` (whatever schema the test
sets as `object_info`);
`GET /view?filename=&subfolder=&type=`; `/ws?clientId=` sending `status`, `execution_start`,
`execution_cached`, `executing`, `progress`, `executed`, `execution_success`, `execution_error`,
`execution_interrupted`, and binary preview frames.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .base import FakeServer
from .media import jpeg_bytes, png_bytes


class FakeComfyUI(FakeServer):
    """Knobs:

    - `silent_ws`: after the initial `status`, the socket says nothing (the client must poll).
    - `close_ws`: the server closes each socket right after `status`.
    - `reject_workflow`: `/prompt` answers 400 with `node_errors` (a missing checkpoint).
    - `execution_error`: the run fails in node `error_node` ("8") with an `execution_error` event
      of `error_type`/`error_message` (default: CUDA out of memory).
    - `run_seconds`: how long a run takes; `hang`: it never finishes (until interrupted).
    - `output`: bytes `/view` serves for the result; `output_type`: "output" or "temp".
    - `prompt_status`: an HTTP error status for `/prompt` (e.g. 500).
    - `ignore_prompt_id`: act like an old ComfyUI that picks its own prompt id.
    """

    def __init__(self) -> None:
        self.silent_ws = False
        self.close_ws = False
        self.reject_workflow = False
        self.execution_error = False
        self.error_node = "8"
        self.error_type = "torch.OutOfMemoryError"
        self.error_message = "CUDA out of memory. Tried to allocate 2.00 GiB"
        self.history_deleted: list[str] = []
        self.object_info: dict[str, Any] = {}
        self.run_seconds = 0.05
        self.hang = False
        self.output: bytes = png_bytes(80, 60)
        self.output_type = "output"
        self.prompt_status: int | None = None
        self.ignore_prompt_id = False
        self.uploads: dict[str, bytes] = {}
        self.prompts: dict[str, dict[str, Any]] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.interrupted: list[str | None] = []
        self.deleted: list[str] = []
        self.sockets: dict[str, WebSocket] = {}
        self._number = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        super().__init__()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/upload/image", self.upload, methods=["POST"]),
            Route("/prompt", self.prompt, methods=["POST"]),
            Route("/history/{prompt_id}", self.get_history, methods=["GET"]),
            Route("/history", self.post_history, methods=["POST"]),
            Route("/object_info", self.get_object_info, methods=["GET"]),
            Route("/queue", self.get_queue, methods=["GET"]),
            Route("/queue", self.post_queue, methods=["POST"]),
            Route("/interrupt", self.interrupt, methods=["POST"]),
            Route("/view", self.view, methods=["GET"]),
            WebSocketRoute("/ws", self.ws),
        ]

    # --- HTTP -----------------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        form = await request.form()
        image = form.get("image")
        if image is None or isinstance(image, str) or not image.filename:
            return Response(status_code=400)
        subfolder = str(form.get("subfolder") or "")
        key = f"{subfolder}/{image.filename}" if subfolder else image.filename
        self.uploads[key] = await image.read()
        return JSONResponse({"name": image.filename, "subfolder": subfolder, "type": "input"})

    async def post_history(self, request: Request) -> Response:
        data = json.loads(await request.body() or b"{}")
        if data.get("clear"):
            self.history_deleted += list(self.history)
            self.history.clear()
        for prompt_id in data.get("delete", []):
            self.history_deleted.append(prompt_id)
            self.history.pop(prompt_id, None)
        return Response(status_code=200)

    async def get_object_info(self, request: Request) -> Response:
        return JSONResponse(self.object_info)

    async def prompt(self, request: Request) -> Response:
        if self.prompt_status is not None:
            return Response(b"Internal Server Error", status_code=self.prompt_status)
        data = json.loads(await request.body())
        if "prompt" not in data:
            error = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
        graph = data["prompt"]
        node_errors = self._validate(graph)
        if node_errors:
            error = {
                "type": "prompt_outputs_failed_validation",
                "message": "Prompt outputs failed validation",
                "details": "",
                "extra_info": {},
            }
            return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
        prompt_id = str(data.get("prompt_id") or f"server-{self._number}")
        if self.ignore_prompt_id:
            prompt_id = f"server-{self._number}"
        self._number += 1
        self.prompts[prompt_id] = {
            "graph": graph,
            "client_id": data.get("client_id"),
            "state": "pending",
            "number": self._number,
        }
        self._tasks[prompt_id] = asyncio.create_task(self._execute(prompt_id))
        return JSONResponse({"prompt_id": prompt_id, "number": self._number, "node_errors": {}})

    def _validate(self, graph: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                errors[node_id] = {
                    "errors": [
                        {
                            "type": "missing_class_type",
                            "message": "missing class_type",
                            "details": "",
                            "extra_info": {},
                        }
                    ],
                    "dependent_outputs": [],
                    "class_type": None,
                }
                continue
            if node["class_type"] == "LoadImage":
                name = node["inputs"].get("image")
                if name not in self.uploads:
                    errors[node_id] = {
                        "errors": [
                            {
                                "type": "custom_validation_failed",
                                "message": "Custom validation failed for node",
                                "details": f"image - Invalid image file: {name}",
                                "extra_info": {},
                            }
                        ],
                        "dependent_outputs": ["10"],
                        "class_type": "LoadImage",
                    }
            loaders = {"CheckpointLoaderSimple": "ckpt_name", "UNETLoader": "unet_name"}
            if self.reject_workflow and node["class_type"] in loaders:
                field = loaders[node["class_type"]]
                errors[node_id] = {
                    "errors": [
                        {
                            "type": "value_not_in_list",
                            "message": "Value not in list",
                            "details": f"{field}: '{node['inputs'].get(field)}' not in []",
                            "extra_info": {},
                        }
                    ],
                    "dependent_outputs": ["10"],
                    "class_type": node["class_type"],
                }
        return errors

    async def get_history(self, request: Request) -> Response:
        prompt_id = request.path_params["prompt_id"]
        entry = self.history.get(prompt_id)
        return JSONResponse({prompt_id: entry} if entry else {})

    async def get_queue(self, request: Request) -> Response:
        def items(state: str) -> list[Any]:
            return [
                [p["number"], pid, p["graph"], {"client_id": p["client_id"]}, ["10"]]
                for pid, p in self.prompts.items()
                if p["state"] == state
            ]

        return JSONResponse({"queue_running": items("running"), "queue_pending": items("pending")})

    async def post_queue(self, request: Request) -> Response:
        data = json.loads(await request.body() or b"{}")
        for prompt_id in data.get("delete", []):
            self.deleted.append(prompt_id)
            if self.prompts.get(prompt_id, {}).get("state") == "pending":
                self.prompts[prompt_id]["state"] = "deleted"
                self._tasks[prompt_id].cancel()
        return Response(status_code=200)

    async def interrupt(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            data = {}
        prompt_id = data.get("prompt_id")
        self.interrupted.append(prompt_id)
        for pid, p in self.prompts.items():
            if p["state"] == "running" and (prompt_id is None or pid == prompt_id):
                p["interrupt"] = True
        return Response(status_code=200)

    async def view(self, request: Request) -> Response:
        filename = request.query_params.get("filename", "")
        if not filename or ".." in filename or filename.startswith("/"):
            return Response(status_code=400)
        for entry in self.history.values():
            for node in entry.get("outputs", {}).values():
                for ref in node.get("images", []):
                    if ref["filename"] == filename and ref["type"] == request.query_params.get(
                        "type"
                    ):
                        return Response(self.output, media_type="image/png")
        return Response(status_code=404)

    # --- websocket ------------------------------------------------------------------------------

    async def ws(self, websocket: WebSocket) -> None:
        client_id = websocket.query_params.get("clientId", "") or "anonymous"
        self.record("WS", "/ws", dict(websocket.query_params), dict(websocket.headers), b"")
        await websocket.accept()
        self.sockets[client_id] = websocket
        await websocket.send_text(
            json.dumps(
                {
                    "type": "status",
                    "data": {
                        "status": {"exec_info": {"queue_remaining": len(self.prompts)}},
                        "sid": client_id,
                    },
                }
            )
        )
        if self.close_ws:
            await websocket.close()
            self.sockets.pop(client_id, None)
            return
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.pop(client_id, None)

    async def _send(self, client_id: str | None, kind: str, data: dict[str, Any]) -> None:
        websocket = self.sockets.get(client_id or "")
        if websocket is None or self.silent_ws:
            return
        try:
            await websocket.send_text(json.dumps({"type": kind, "data": data}))
        except Exception:  # the client went away
            self.sockets.pop(client_id or "", None)

    async def _send_bytes(self, client_id: str | None, data: bytes) -> None:
        websocket = self.sockets.get(client_id or "")
        if websocket is None or self.silent_ws:
            return
        try:
            await websocket.send_bytes(data)
        except Exception:
            self.sockets.pop(client_id or "", None)

    # --- execution ------------------------------------------------------------------------------

    async def _execute(self, prompt_id: str) -> None:
        p = self.prompts[prompt_id]
        cid = p["client_id"]
        await asyncio.sleep(0.01)
        p["state"] = "running"
        messages: list[Any] = []

        async def event(kind: str, data: dict[str, Any]) -> None:
            data = {**data, "prompt_id": prompt_id}
            if kind in (
                "execution_start",
                "execution_cached",
                "execution_error",
                "execution_interrupted",
                "execution_success",
            ):
                messages.append([kind, {**data, "timestamp": int(time.time() * 1000)}])
            await self._send(cid, kind, data)

        await event("execution_start", {})
        await event("execution_cached", {"nodes": []})
        # a broadcast about somebody else's prompt, which the client must ignore
        await self._send(cid, "executing", {"node": None, "prompt_id": "someone-else"})
        started = time.monotonic()
        for node_id in p["graph"]:
            await event("executing", {"node": node_id, "display_node": node_id})
            if p.get("interrupt"):
                return await self._interrupted(prompt_id, node_id, messages, event)
            if self.execution_error and node_id == self.error_node:
                error = {
                    "node_id": node_id,
                    "node_type": p["graph"][node_id]["class_type"],
                    "executed": [],
                    "exception_message": self.error_message,
                    "exception_type": self.error_type,
                    "traceback": ["..."],
                    "current_inputs": {},
                    "current_outputs": [],
                }
                await event("execution_error", error)
                p["state"] = "done"
                self.history[prompt_id] = {
                    "prompt": [p["number"], prompt_id, p["graph"], {}, []],
                    "outputs": {},
                    "status": {"status_str": "error", "completed": False, "messages": messages},
                }
                await self._send(cid, "executing", {"node": None, "prompt_id": prompt_id})
                return
        await self._send_bytes(cid, struct.pack(">I", 1) + struct.pack(">I", 1) + jpeg_bytes(8, 8))
        while self.hang or time.monotonic() - started < self.run_seconds:
            await event("progress", {"value": 1, "max": 2, "node": "8"})
            if p.get("interrupt"):
                return await self._interrupted(prompt_id, "8", messages, event)
            await asyncio.sleep(0.02)
        out_node = next(
            (n for n, v in p["graph"].items() if v["class_type"] in ("SaveImage", "SaveVideo")),
            "10",
        )
        ref = {
            "filename": f"restore_{self._number:05}_.png",
            "subfolder": "rekindle",
            "type": self.output_type,
        }
        await event(
            "executed", {"node": out_node, "display_node": out_node, "output": {"images": [ref]}}
        )
        await event("execution_success", {})
        p["state"] = "done"
        self.history[prompt_id] = {
            "prompt": [p["number"], prompt_id, p["graph"], {}, [out_node]],
            "outputs": {out_node: {"images": [ref]}},
            "status": {"status_str": "success", "completed": True, "messages": messages},
            "meta": {out_node: {"node_id": out_node, "display_node": out_node}},
        }
        await self._send(cid, "executing", {"node": None, "prompt_id": prompt_id})

    async def _interrupted(
        self, prompt_id: str, node_id: str, messages: list[Any], event: Any
    ) -> None:
        p = self.prompts[prompt_id]
        await event(
            "execution_interrupted", {"node_id": node_id, "node_type": "KSampler", "executed": []}
        )
        p["state"] = "done"
        self.history[prompt_id] = {
            "prompt": [p["number"], prompt_id, p["graph"], {}, []],
            "outputs": {},
            "status": {"status_str": "error", "completed": False, "messages": messages},
        }
        await self._send(p["client_id"], "executing", {"node": None, "prompt_id": prompt_id})
