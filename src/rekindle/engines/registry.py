"""Engine registry: names to engine classes, built once per process from settings.

Engines are imported lazily so that an operator who never uses ComfyUI never imports its client.
Every engine class provides `name`, `from_settings(settings)` and `is_configured(settings)`.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from rekindle.config import Settings
from rekindle.engines.base import RESTORE_OPTIONS, AnimationEngine, RestorationEngine

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


def engine_catalogue(settings: Settings) -> list[dict[str, object]]:
    """`GET /api/v1/engines`: every engine a request may name, restoration engines first, each as
    `{"name", "kind": "restore"|"animate", "default": bool, "options": [...], "price": credits}`.

    `options` is what the engine honours (`supported_options()`, in `RESTORE_OPTIONS` order; a
    ComfyUI or RunPod workflow's from its declared inputs). Animation engines list the options of
    theirs that the animate request accepts (none yet: it takes only `engine`). `price` is the
    credits one request costs (`PRICE_RESTORE`, `PRICE_ANIMATION`)."""
    listed: list[dict[str, object]] = []
    for name in available_restoration_engines(settings):
        honoured = restoration_engine(name, settings).supported_options()
        listed.append(
            {
                "name": name,
                "kind": "restore",
                "default": name == settings.rekindle_engine,
                "options": [option for option in RESTORE_OPTIONS if option in honoured],
                "price": settings.price_restore,
            }
        )
    for name in ANIMATION_ENGINES:
        if not animation_engine_available(name, settings):
            continue
        listed.append(
            {
                "name": name,
                "kind": "animate",
                "default": name == settings.rekindle_animation_engine,
                "options": [],
                "price": settings.price_animation,
            }
        )
    return listed


def animation_engine_available(name: str, settings: Settings) -> bool:
    """Whether animation engine `name` is registered and configured."""
    return name in ANIMATION_ENGINES and bool(
        _load(ANIMATION_ENGINES[name]).is_configured(settings)
    )


def reset() -> None:
    """Forget built engines (tests that change settings call this)."""
    with _lock:
        _instances.clear()
