"""Restoration engines for tests that need an engine honouring given options (registered into
`engines.registry` by `registered_test_engines`). They run in the test process only: tests using
them run attempts in-process (`restoration.runner.run_restore_attempt`), not in a worker."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from PIL import Image

from rekindle.config import Settings
from rekindle.engines import registry
from rekindle.engines.base import RESTORE_OPTIONS, EngineResult, RestoreRequest


class ProbeEngine:
    """Honours every option (mask included) and records each request it is given; returns the
    image unchanged as a PNG."""

    name: ClassVar[str] = "probe"
    received: ClassVar[list[RestoreRequest]] = []

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return True

    @classmethod
    def from_settings(cls, settings: Settings) -> ProbeEngine:
        return cls()

    def supported_options(self) -> frozenset[str]:
        return frozenset(RESTORE_OPTIONS)

    def restore(self, request: RestoreRequest) -> EngineResult:
        type(self).received.append(request)
        with Image.open(io.BytesIO(request.image)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, "PNG")
        return EngineResult(out.getvalue(), "image/png", "probe-1", {"probe": True})


class PlainEngine(ProbeEngine):
    """Honours no option at all (not even denoise)."""

    name: ClassVar[str] = "plain"

    def supported_options(self) -> frozenset[str]:
        return frozenset()


TEST_ENGINES: dict[str, Any] = {
    "probe": "tests.support.engines:ProbeEngine",
    "plain": "tests.support.engines:PlainEngine",
}


@contextmanager
def registered_test_engines() -> Iterator[None]:
    """`probe` and `plain` in the restoration registry while the block runs."""
    saved = dict(registry.RESTORATION_ENGINES)
    registry.RESTORATION_ENGINES.update(TEST_ENGINES)
    registry.reset()
    try:
        yield
    finally:
        registry.RESTORATION_ENGINES.clear()
        registry.RESTORATION_ENGINES.update(saved)
        registry.reset()
