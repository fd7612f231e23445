"""Local fake provider servers that speak each provider's documented protocol.

Each fake is a real server on 127.0.0.1 with an ephemeral port, run by uvicorn in a background
thread (Starlette app; ComfyUI's `/ws` websocket on the same port). Each counts its requests
(`fake.count("POST", "/run")`) and can be told to misbehave (error statuses with object or bare
string bodies, slow answers, malformed JSON, non-image results, a silent websocket, failing jobs).

Use them as context managers:

    with FakeSiliconFlow() as fake:
        engine = SiliconFlowEngine(api_url=fake.api_url, ...)
"""

from .base import FakeServer, Recorded
from .comfyui import FakeComfyUI
from .media import jpeg_bytes, mp4_bytes, png_bytes, webm_bytes
from .runpod import FakeRunPod
from .siliconflow import FakeSiliconFlow

__all__ = [
    "FakeComfyUI",
    "FakeRunPod",
    "FakeServer",
    "FakeSiliconFlow",
    "Recorded",
    "jpeg_bytes",
    "mp4_bytes",
    "png_bytes",
    "webm_bytes",
]
