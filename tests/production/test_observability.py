"""Structured logs (request id from the API into the worker, no secrets) and Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rekindle.logcontext import JsonFormatter, TextFormatter, bind, new_context, redact
from rekindle.logs import configure_logging
from tests.production.helpers import json_lines, logged_worker, small_png
from tests.support.stack import Stack, free_port, running_stack, stack_settings

SECRETS = [
    "sk-live1234567890abcdef",
    "whsec_0123456789abcdef",
    "sk_test_51Habcdefgh",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZw",
    "AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
    "f00dfacecafebeef0123456789abcdef00112233",
    "hunter2hunter2",
]

LEAKY = [
    f"Authorization: Bearer {SECRETS[0]}",
    f"{{'authorization': 'Bearer {SECRETS[3]}', 'accept': '*/*'}}",
    f"stripe said no for {SECRETS[2]} (webhook {SECRETS[1]})",
    "GET https://bucket.s3.amazonaws.com/users/a/processed/p.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={SECRETS[4]}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600"
    f"&X-Amz-Signature={SECRETS[5]}",
    f"/api/v1/files/users/a/p.jpg?expires=1700000000&sig={SECRETS[5]}",
    f'{{"password": "{SECRETS[6]}", "email": "a@example.com"}}',
    f"token={SECRETS[3]}",
]


@pytest.mark.parametrize("line", LEAKY)
def test_redact_removes_secrets(line: str) -> None:
    cleaned = redact(line)
    assert "[REDACTED]" in cleaned
    for secret in SECRETS:
        assert secret not in cleaned, cleaned
    # What is not secret stays readable.
    for keep in ("X-Amz-Expires=3600", "a@example.com", "expires=1700000000", "accept"):
        if keep in line:
            assert keep in cleaned


def _record(message: str, *args: object, exc: bool = False, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    from rekindle.logcontext import ContextFilter

    handler.addFilter(ContextFilter())
    logger = logging.getLogger(f"rekindle.test.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        if exc:
            try:
                raise RuntimeError(f"provider refused Bearer {SECRETS[0]}")
            except RuntimeError:
                logger.exception(message, *args, extra=extra)
        else:
            logger.info(message, *args, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_the_context_and_hide_secrets() -> None:
    with new_context(request_id="req-1"):
        bind(attempt_id="att-1", user_id="alice")
        line = _record("calling %s with %s", "siliconflow", LEAKY[0], status=200, duration_ms=12.5)
        failure = _record("engine failed", exc=True)
    entry = json.loads(line)
    assert entry["request_id"] == "req-1" and entry["attempt_id"] == "att-1"
    assert entry["user_id"] == "alice"
    assert entry["level"] == "info" and entry["status"] == 200 and entry["duration_ms"] == 12.5
    assert entry["time"].endswith("Z") and entry["logger"].startswith("rekindle.test")
    assert SECRETS[0] not in line and "calling siliconflow with Authorization" in entry["message"]
    failed = json.loads(failure)
    assert "RuntimeError" in failed["exc_info"] and SECRETS[0] not in failure
    # Outside the context, nothing lingers.
    assert "request_id" not in json.loads(_record("later"))


def test_text_lines_are_redacted_too() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "key %s", (LEAKY[4],), None)
    out = TextFormatter().format(record)
    assert SECRETS[5] not in out and "[REDACTED]" in out


def test_configure_logging_switches_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_flag = getattr(root, "_rekindle_configured", False)
    root.handlers = []
    root._rekindle_configured = False  # type: ignore[attr-defined]
    try:
        configure_logging("INFO", "json")
        logging.getLogger("rekindle.test.switch").info("hello %s", "world")
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(err)["message"] == "hello world"
        configure_logging("INFO", "text")
        logging.getLogger("rekindle.test.switch").info("plain")
        assert capsys.readouterr().err.strip().endswith("rekindle.test.switch: plain")
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        root._rekindle_configured = saved_flag  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def observed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path, int]]:
    """An embedded stack whose worker logs JSON at INFO to a file and serves its metrics."""
    data_dir = tmp_path_factory.mktemp("observed")
    port = free_port()
    values = stack_settings("embedded", data_dir)
    with running_stack(values, "embedded", worker=False) as stack:
        env = {
            **stack.env,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "WORKER_METRICS_PORT": str(port),
        }
        log_path = data_dir / "worker.log"
        with logged_worker(env, log_path):
            yield stack, log_path, port


def _restore(stack: Stack, user: str, request_id: str | None) -> tuple[str, httpx.Response]:
    upload = stack.client.post(
        "/api/v1/photos",
        headers=stack.auth(user),
        files={"file": ("p.png", small_png(3), "image/png")},
    )
    assert upload.status_code == 201, upload.text
    headers = stack.auth(user) | ({"X-Request-ID": request_id} if request_id else {})
    accepted = stack.client.post(f"/api/v1/photos/{upload.json()['id']}/restore", headers=headers)
    assert accepted.status_code == 202, accepted.text
    return upload.json()["id"], accepted


def _wait_for_lines(path: Path, attempt_id: str, message: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in json_lines(path) if line.get("attempt_id") == attempt_id]
        if any(line.get("message") == message for line in lines):
            return lines
        time.sleep(0.2)
    raise AssertionError(f"no {message!r} line for {attempt_id}: {path.read_text()[-3000:]}")


def test_request_id_travels_from_the_api_into_the_worker(
    observed_stack: tuple[Stack, Path, int],
) -> None:
    stack, log_path, _ = observed_stack
    photo_id, accepted = _restore(stack, "logged", "client-chosen-id.42")
    assert accepted.headers["X-Request-ID"] == "client-chosen-id.42"
    attempt_id = accepted.json()["id"]
    stack.wait_for_photo(photo_id, ("ready",), user="logged")
    lines = _wait_for_lines(log_path, attempt_id, "restoration completed")
    messages = [line["message"] for line in lines]
    assert "restoration started" in messages
    for line in lines:  # every worker line about this attempt names the request that asked
        assert line["request_id"] == "client-chosen-id.42", line
    done = next(line for line in lines if line["message"] == "restoration completed")
    assert done["engine"] == "classic" and done["duration_ms"] > 0
    assert done["level"] == "info" and done["logger"] == "rekindle.restoration.runner"


def test_request_ids_are_made_when_missing_or_unsafe(
    observed_stack: tuple[Stack, Path, int],
) -> None:
    stack, _, _ = observed_stack
    made = stack.client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    unsafe = stack.client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert unsafe.headers["X-Request-ID"] != "bad id <script>"
    assert len(unsafe.headers["X-Request-ID"]) == 32
    too_long = stack.client.get("/healthz", headers={"X-Request-ID": "a" * 200})
    assert too_long.headers["X-Request-ID"] != "a" * 200
    # Errors carry it too.
    missing = stack.client.get("/api/v1/photos/not-a-uuid", headers=stack.auth())
    assert missing.status_code == 422 and len(missing.headers["X-Request-ID"]) == 32


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition text (0.0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_after_a_restore(observed_stack: tuple[Stack, Path, int]) -> None:
    stack, _, port = observed_stack
    before = stack.client.get("/metrics").text
    photo_id, _ = _restore(stack, "measured", None)
    stack.wait_for_photo(photo_id, ("ready",), user="measured")
    response = stack.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    route = "/api/v1/photos/{photo_id}/restore"
    count = "rekindle_http_request_duration_seconds_count"
    assert _metric(after, count, route=route, status="202", method="POST") == (
        _metric(before, count, route=route, status="202", method="POST") + 1
    )
    # Raw paths never become labels.
    assert f"/api/v1/photos/{photo_id}" not in after
    charged = "rekindle_credits_total"
    assert _metric(after, charged, kind="charge") == _metric(before, charged, kind="charge") + 1
    assert "rekindle_queue_depth" in after
    assert _metric(after, "rekindle_attempts_unfinished", kind="restore", status="pending") == 0
    # The worker's own metrics: the attempt, by engine and outcome, and the engine's latency.
    worker = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert _metric(worker, "rekindle_attempts_total", engine="classic", outcome="completed") >= 1
    assert (
        _metric(worker, "rekindle_engine_duration_seconds_count", engine="classic", outcome="ok")
        >= 1
    )


def test_metrics_token(tmp_path: Path) -> None:
    from rekindle.config import Settings
    from rekindle.migrate import upgrade
    from tests.support.stack import serve_api

    values = stack_settings("embedded", tmp_path, metrics_token="scrape-secret")
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    upgrade(settings.sqlalchemy_url)
    with serve_api(settings) as (base_url, _):
        assert httpx.get(f"{base_url}/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(f"{base_url}/metrics", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer scrape-secret"}
        assert httpx.get(f"{base_url}/metrics", headers=right).status_code == 200
