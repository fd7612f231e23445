"""The image and compose definitions keep the properties issue 14 fixed (Dockerfile, compose.yaml,
deploy/healthcheck.py). Running them end to end is deploy/smoke.sh's job (Docker needed); these
checks read the files, and run the health probe against a real HTTP server, so they need no Docker.
"""

from __future__ import annotations

import http.server
import importlib.util
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


class _ComposeLoader(yaml.SafeLoader):
    """SafeLoader that accepts compose's `!reset` / `!override` tags (as plain values)."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: None)
_ComposeLoader.add_constructor("!override", lambda loader, node: None)


def _compose(path: str = "compose.yaml") -> dict:
    return yaml.load((ROOT / path).read_text(), Loader=_ComposeLoader)


def _healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerfile_builds_without_docker_hub_frontend_and_pins_versions() -> None:
    assert not re.search(r"^#\s*syntax=", DOCKERFILE, re.M), "the syntax line pulls from Docker Hub"
    assert re.search(r'"uv==\$\{UV_VERSION\}"', DOCKERFILE)
    assert re.search(r"^ARG UV_VERSION=\d+\.\d+\.\d+$", DOCKERFILE, re.M)
    # A full patch-level tag, not a floating 3.11 one.
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", DOCKERFILE, re.M)


def test_dockerfile_takes_a_ca_secret_and_an_index_argument() -> None:
    assert "--mount=type=secret,id=ca-bundle" in DOCKERFILE
    assert re.search(r"^ARG PYPI_INDEX_URL=", DOCKERFILE, re.M)


def test_runtime_code_is_root_owned_and_dependencies_are_their_own_layer() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert "--chown" not in runtime, "the runtime user must not own its code"
    assert "COPY --from=deps /app/.venv /app/.venv" in runtime
    # The project arrives after the dependency layer, as its own small layer.
    assert runtime.index("--from=deps") < runtime.index("uv pip install")


def test_dockerignore_is_an_allow_list() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    rules = [line for line in lines if not line.startswith("#")]
    assert rules[0] == "*"
    assert "!src/" in rules


def test_compose_requires_secrets_binds_loopback_and_pins_images() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "MINIO_APP_PASSWORD"):
        assert f"${{{name}:?" in text, name
        assert f"${{{name}:-" not in text, f"{name} has a default"
    services = _compose()["services"]
    for name, service in services.items():
        image = service.get("image", "")
        if not image.startswith("${REKINDLE_IMAGE"):  # our own, locally built tag
            assert ":" in image and ":latest" not in image, name
        for port in service.get("ports", []):
            assert port.startswith(("${MINIO_BIND:-127.0.0.1}", "${REKINDLE_BIND:-127.0.0.1}")), (
                port
            )
    # The app never gets MinIO's root keys.
    env = services["api"]["environment"]
    assert "MINIO_ROOT" not in env["AWS_ACCESS_KEY_ID"]
    assert "MINIO_ROOT" not in env["AWS_SECRET_ACCESS_KEY"]
    assert "mc admin policy attach" in services["minio-init"]["command"][0]


def test_compose_settings_can_be_overridden_from_env() -> None:
    env = _compose()["services"]["api"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL"):
        assert env[name].startswith(f"${{{name}:-"), name


def test_compose_builds_once_and_limits_memory_and_logs() -> None:
    services = _compose()["services"]
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["migrate"]
    for name, service in services.items():
        assert service["logging"]["options"]["max-size"], name
        if name != "minio-init":
            assert service["deploy"]["resources"]["limits"]["memory"], name


def _seconds(value: str) -> int:
    match = re.fullmatch(r"\$\{\w+:-(\d+)s\}|(\d+)s", value)
    assert match, value
    return int(match.group(1) or match.group(2))


def test_worker_grace_period_outlasts_the_task_time_limit() -> None:
    from rekindle.config import Settings

    limit = Settings().task_time_limit_seconds
    services = _compose()["services"]
    for name in ("worker", "worker-beat"):
        assert _seconds(services[name]["stop_grace_period"]) > limit, name


def test_postgres_max_connections_cover_the_default_processes() -> None:
    services = _compose()["services"]
    command = " ".join(services["postgres"]["command"])
    match = re.search(r"max_connections=\$\{POSTGRES_MAX_CONNECTIONS:-(\d+)\}", command)
    assert match
    processes = 2 + 1  # api + worker-beat + one worker (REKINDLE_WORKERS default)
    assert int(match.group(1)) >= 50 * processes + 10


def test_healthcheck_takes_the_port_from_the_serve_command_line() -> None:
    probe = _healthcheck()
    assert probe.serve_port(["serve", "--host", "0.0.0.0", "--port", "18080"]) == 18080
    assert probe.serve_port(["serve", "--port=9001"]) == 9001
    assert probe.serve_port(["serve"]) == 8000


@pytest.fixture
def healthz_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_probes_the_port_serve_listens_on(healthz_server: int) -> None:
    probe = _healthcheck()
    assert probe.probe_serve(["serve", "--port", str(healthz_server)])
    with pytest.raises(OSError):
        probe.probe_serve(["serve", "--port", "1"])  # nothing listens there
