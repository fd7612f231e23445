"""Engine registry: names to engine classes, built once per process from settings.

Engines are imported lazily so that an operator who never uses ComfyUI never imports its client.
Every engine class provides `name`, `from_settings(settings)` and `is_configured(settings)`.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from rekindle.config import Settings
from rekindle.engines.base import AnimationEngine, RestorationEngine

RESTORATION_ENGINES: dict[str, str] = {
    "classic": "rekindle.engines.classic:ClassicEngine",
    "siliconflow": "rekindle.engines.siliconflow:SiliconFlowEngine",
    "comfyui": "rekindle.engines.comfyui:ComfyUIEngine",
    "runpod": "rekindle.engines.runpod:RunPodEngine",
}

ANIMATION_ENGINES: dict[str, str] = {
    "local": "rekindle.engines.animation.local:LocalAnimationEngine",
    "runpod": "rekindle.engines.animation.runpod:RunPodAnimationEngine",
}

_instances: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


class UnknownEngine(LookupError):
    """The engine name is not registered, not allowed, or not configured."""


def _load(path: str) -> Any:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def _engine(kind: str, table: dict[str, str], name: str, settings: Settings) -> Any:
    if name not in table:
        raise UnknownEngine(name)
    key = (kind, name)
    with _lock:
        if key not in _instances:
            cls = _load(table[name])
            if not cls.is_configured(settings):
                raise UnknownEngine(name)
            _instances[key] = cls.from_settings(settings)
        return _instances[key]


def restoration_engine(name: str, settings: Settings) -> RestorationEngine:
    """The shared instance of restoration engine `name`. Raises UnknownEngine."""
    return _engine("restore", RESTORATION_ENGINES, name, settings)


def animation_engine(name: str, settings: Settings) -> AnimationEngine:
    """The shared instance of animation engine `name`. Raises UnknownEngine."""
    return _engine("animate", ANIMATION_ENGINES, name, settings)


def available_restoration_engines(settings: Settings) -> list[str]:
    """Engines a request may name: allowed by configuration and configured (keys, URLs set)."""
    names = []
    for name in settings.engines_allowed:
        if name in RESTORATION_ENGINES and _load(RESTORATION_ENGINES[name]).is_configured(settings):
            names.append(name)
    return names


def animation_engine_available(name: str, settings: Settings) -> bool:
    """Whether animation engine `name` is registered and configured."""
    return name in ANIMATION_ENGINES and bool(
        _load(ANIMATION_ENGINES[name]).is_configured(settings)
    )


def reset() -> None:
    """Forget built engines (tests that change settings call this)."""
    with _lock:
        _instances.clear()
