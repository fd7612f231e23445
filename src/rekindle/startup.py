"""Checks a worker makes before it takes work: configurations that would fail every restoration,
or fail it at the wrong moment, are refused at start-up instead (`ConfigurationError`).

- `check_sweep_limit`: the stuck-attempt sweep fails an attempt `processing` for longer than
  `TASK_TIME_LIMIT_SECONDS`. If that is not longer than an engine's own time limit (plus
  `SWEEP_MARGIN_SECONDS`), the sweep fails calls that are still running: the user is refunded and
  told "timeout" while the provider works on, and a result arriving later is thrown away.
- `check_siliconflow_image_url`: with `SILICONFLOW_IMAGE_INPUT=url` SiliconFlow must fetch the
  photo from a presigned URL. A URL signed for `localhost`, a compose service name or a private
  address (MinIO's `localhost:9000`) can never be fetched from the internet.
- `check_comfyui_workflow`: an operator's `COMFYUI_WORKFLOW` is validated against the configured
  server's `GET /object_info` (`workflows.schema.validate`) when the server answers; when it does
  not, a warning is logged (the server may start later) and the worker starts.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from rekindle.config import Settings
from rekindle.engines import registry, workflows
from rekindle.engines.workflows.schema import validate
from rekindle.storage.base import ObjectStore

log = logging.getLogger(__name__)

OBJECT_INFO_TIMEOUT = 10.0
"""Seconds allowed to `GET /object_info` at start-up."""


class ConfigurationError(ValueError):
    """The settings cannot work; the message says which ones and why."""


def check_worker(settings: Settings, store: ObjectStore, *, sweep: bool) -> None:
    """The checks for a worker; `sweep`: it also runs the stuck-attempt sweep (`--beat`).
    Raises ConfigurationError."""
    if sweep:
        check_sweep_limit(settings)
    check_siliconflow_image_url(settings, store)
    check_comfyui_workflow(settings)


def _configured(settings: Settings) -> list[tuple[str, Any]]:
    """(name, engine class) of the restoration engines this deployment may run."""
    found = []
    for name in registry.available_restoration_engines(settings):
        found.append((name, registry._load(registry.RESTORATION_ENGINES[name])))
    return found


def engine_time_limits(settings: Settings) -> dict[str, float]:
    """Seconds each configured remote engine may spend on one restoration (its `time_limit`)."""
    return {
        name: float(cls.time_limit(settings))
        for name, cls in _configured(settings)
        if hasattr(cls, "time_limit")
    }


def check_sweep_limit(settings: Settings) -> None:
    """Refuse when TASK_TIME_LIMIT_SECONDS <= an engine's time limit + SWEEP_MARGIN_SECONDS."""
    limit = settings.task_time_limit_seconds
    margin = settings.sweep_margin_seconds
    short = {
        name: seconds
        for name, seconds in engine_time_limits(settings).items()
        if seconds + margin >= limit
    }
    if short:
        needed = int(max(short.values()) + margin) + 1
        engines = ", ".join(f"{name} may take {seconds:g} s" for name, seconds in short.items())
        raise ConfigurationError(
            f"TASK_TIME_LIMIT_SECONDS={limit} is too short for the engines' own limits ({engines}; "
            f"margin SWEEP_MARGIN_SECONDS={margin}): the stuck-attempt sweep would fail calls "
            f"still running. Set TASK_TIME_LIMIT_SECONDS to at least {needed}, or lower the "
            "engine timeouts."
        )


def is_public_host(host: str, resolve: Callable[[str], list[str]] | None = None) -> bool:
    """Whether `host` (a name or an address) can be reached from the internet: not loopback,
    private, link-local or reserved, and not a single-label or `.local`/`.internal` name. Names are
    resolved (`resolve`, default `socket.getaddrinfo`); one that does not resolve here is
    assumed public (the worker's resolver may not see the internet's)."""
    name = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(name).is_global
    except ValueError:
        pass
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal", ".lan")):
        return False
    if "." not in name:  # a compose service or LAN host name ("minio")
        return False
    resolve = resolve or _resolve
    try:
        addresses = resolve(name)
    except OSError:
        return True
    return all(ipaddress.ip_address(a).is_global for a in addresses) if addresses else True


def _resolve(name: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(name, None)})


def check_siliconflow_image_url(
    settings: Settings,
    store: ObjectStore,
    resolve: Callable[[str], list[str]] | None = None,
) -> None:
    """In URL mode, refuse a store that makes no URLs or signs them for a host SiliconFlow
    cannot reach (SILICONFLOW_IMAGE_URL_CHECK=false skips the host check, for a provider
    inside the same network)."""
    if settings.siliconflow_image_input != "url" or "siliconflow" not in {
        name for name, _ in _configured(settings)
    }:
        return
    url = store.provider_url("rekindle-startup-check.jpg") if store.reachable_by_providers else None
    if not url:
        raise ConfigurationError(
            "SILICONFLOW_IMAGE_INPUT=url needs S3 storage that signs URLs; the local store makes "
            "none. Use SILICONFLOW_IMAGE_INPUT=base64."
        )
    host = urlsplit(url).hostname or ""
    if settings.siliconflow_image_url_check and not is_public_host(host, resolve):
        raise ConfigurationError(
            f"SILICONFLOW_IMAGE_INPUT=url, but the store signs URLs for {host!r}, which "
            "SiliconFlow cannot reach from the internet (loopback or private). Set "
            "S3_PUBLIC_ENDPOINT_URL to a public host, or use SILICONFLOW_IMAGE_INPUT=base64."
        )


def check_comfyui_workflow(
    settings: Settings, client: httpx.Client | None = None
) -> list[str] | None:
    """Validate COMFYUI_WORKFLOW against the server's `/object_info`. Returns the problems found
    (empty: valid), or None when there was nothing to check or the server did not answer.
    Raises ConfigurationError when the workflow does not fit the server, or does not load."""
    if not (settings.comfyui_url and settings.comfyui_workflow):
        return None
    if "comfyui" not in {name for name, _ in _configured(settings)}:
        return None
    try:
        workflow = workflows.load(settings.comfyui_workflow, workflows.DEFAULT_RESTORE)
    except workflows.WorkflowError as exc:
        raise ConfigurationError(f"COMFYUI_WORKFLOW: {exc}") from exc
    url = settings.comfyui_url.rstrip("/") + "/object_info"
    try:
        if client is None:
            response = httpx.get(url, timeout=OBJECT_INFO_TIMEOUT)
        else:
            response = client.get(url, timeout=OBJECT_INFO_TIMEOUT)
        response.raise_for_status()
        object_info = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("COMFYUI_WORKFLOW not checked: %s did not answer (%s)", url, exc)
        return None
    if not isinstance(object_info, dict):
        log.warning("COMFYUI_WORKFLOW not checked: %s answered no schema", url)
        return None
    problems = validate(workflow, object_info)
    if problems:
        raise ConfigurationError(
            f"COMFYUI_WORKFLOW {settings.comfyui_workflow} does not fit the ComfyUI server at "
            f"{settings.comfyui_url}: " + "; ".join(problems[:20])
        )
    return problems
