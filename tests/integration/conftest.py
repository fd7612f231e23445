"""Opt-in tests against the real services (seeds 001 and 004): `uv run pytest -m integration`.

A plain `uv run pytest` collects them and skips them (they cost money and need credentials).
With `-m integration`, each test still skips, naming the variable, when its service is not
configured: SILICONFLOW_API_KEY, COMFYUI_TEST_URL, RUNPOD_API_KEY + RUNPOD_ENDPOINT_ID, and
RUN_INTEGRATION_TESTS=1 (+ S3_BUCKET and AWS credentials) for real S3.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = "integration" in (config.getoption("-m") or "")
    if selected:
        return
    skip = pytest.mark.skip(reason="real-service test: opt in with `uv run pytest -m integration`")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


def need(*names: str) -> dict[str, str]:
    """The named environment variables, or skip naming the missing ones."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        pytest.skip(f"set {' and '.join(missing)} to run this test against the real service")
    return {name: os.environ[name] for name in names}
