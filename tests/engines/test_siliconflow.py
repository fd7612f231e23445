"""SiliconFlowEngine against a local server speaking SiliconFlow's documented protocol."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rekindle.config import Settings
from rekindle.engines import http
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.siliconflow import MAX_PROMPT_CHARS, SiliconFlowEngine
from tests.engines.fakes import FakeSiliconFlow, jpeg_bytes, png_bytes
from tests.engines.fakes.keepalive import KeepAliveClosingSiliconFlow
from tests.engines.fakes.media import noisy_jpeg
from tests.engines.fakes.siliconflow import API_KEY

IMAGE = jpeg_bytes(64, 48)


@pytest.fixture
def fake() -> Iterator[FakeSiliconFlow]:
    with FakeSiliconFlow() as server:
        yield server


def make_engine(
    api_url: str,
    *,
    timeout: float = 5.0,
    key: str = API_KEY,
    in_flight: int = 4,
    **more: object,
):
    settings = Settings(
        _env_file=None,
        siliconflow_api_key=key,
        siliconflow_api_url=api_url,
        siliconflow_timeout=timeout,
        siliconflow_max_in_flight=in_flight,
        **more,
    )
    return SiliconFlowEngine.from_settings(settings)


def test_is_configured_needs_the_api_key() -> None:
    assert not SiliconFlowEngine.is_configured(Settings(_env_file=None, siliconflow_api_key=None))
    assert SiliconFlowEngine.is_configured(Settings(_env_file=None, siliconflow_api_key="sk-x"))


def test_success_with_a_data_uri(fake: FakeSiliconFlow) -> None:
    engine = make_engine(fake.api_url)
    result = engine.restore(RestoreRequest(image=IMAGE, seed=1234))

    assert result.data == fake.result
    assert result.content_type == "image/png"
    assert result.model == "Qwen/Qwen-Image-Edit"
    payload = fake.payloads[0]
    assert payload["model"] == "Qwen/Qwen-Image-Edit"
    assert payload["image"] == "data:image/jpeg;base64," + base64.b64encode(IMAGE).decode()
    assert payload["num_inference_steps"] == 20
    assert payload["cfg"] == 4.0
    assert payload["seed"] == 1234
    assert "guidance_scale" not in payload and "image_size" not in payload
    assert payload["negative_prompt"].startswith("scratches")
    assert len(payload["prompt"]) <= MAX_PROMPT_CHARS
    params = result.params
    assert params["provider"] == "siliconflow"
    assert params["prompt"] == payload["prompt"]
    assert params["num_inference_steps"] == 20
    assert params["guidance_scale"] == 4.0
    assert params["seed"] == 1234
    assert params["inference_time_seconds"] == 1.25
    assert params["image_input"] == "data_uri"
    assert params["trace_id"] == fake.trace_ids[0]  # support asks for it
    # one generation call with our key, one download of the result without it
    assert fake.count("POST", "/v1/images/generations") == 1
    assert fake.find("POST", "/v1/")[0].headers["authorization"] == f"Bearer {API_KEY}"
    downloads = fake.find("GET", "/cdn/")
    assert len(downloads) == 1 and "authorization" not in downloads[0].headers


URL = "https://bucket.s3.amazonaws.com/users/u/processed/p.jpg?X-Amz-Signature=abc"


def test_base64_is_sent_by_default_even_when_a_url_exists(fake: FakeSiliconFlow) -> None:
    """The English reference documents only data URIs: a URL is not sent unless asked for."""
    fake.accept_urls = False
    engine = make_engine(fake.api_url)
    assert not engine.wants_image_url  # the worker does not even make a presigned URL
    result = engine.restore(RestoreRequest(image=IMAGE, image_url=URL))
    assert fake.payloads[0]["image"].startswith("data:image/jpeg;base64,")
    assert result.params["image_input"] == "data_uri"


def test_url_mode_sends_the_presigned_url(fake: FakeSiliconFlow) -> None:
    engine = make_engine(fake.api_url, siliconflow_image_input="url")
    assert engine.wants_image_url
    result = engine.restore(RestoreRequest(image=IMAGE, image_url=URL))
    assert fake.payloads[0]["image"] == URL
    assert result.params["image_input"] == "url"
    assert isinstance(result.params["seed"], int)


def test_a_large_image_is_reencoded_within_the_limit(fake: FakeSiliconFlow) -> None:
    big = noisy_jpeg(1600, 1200)
    limit = 200_000
    assert len(base64.b64encode(big)) > limit
    result = make_engine(fake.api_url, siliconflow_max_image_bytes=limit).restore(
        RestoreRequest(image=big)
    )
    image = fake.payloads[0]["image"]
    assert len(image) <= limit and image.startswith("data:image/jpeg;base64,")
    assert result.params["input_reencoded"] is True


@pytest.mark.parametrize("model", ["Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit-2509"])
def test_both_edit_models_get_their_documented_fields(fake: FakeSiliconFlow, model: str) -> None:
    result = make_engine(fake.api_url, siliconflow_model=model).restore(
        RestoreRequest(image=IMAGE, seed=5)
    )
    payload = fake.payloads[0]
    assert set(payload) == {
        "model",
        "prompt",
        "negative_prompt",
        "image",
        "num_inference_steps",
        "cfg",
        "seed",
    }
    assert payload["model"] == model == result.model


def test_a_model_that_does_not_exist_is_a_configuration_error(fake: FakeSiliconFlow) -> None:
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url, siliconflow_model="Qwen/Qwen-Image-Edit-9999").restore(
            RestoreRequest(image=IMAGE)
        )
    assert info.value.code == "provider_config_error"
    assert info.value.message == "Service configuration error"
    assert "Model does not exist" in (info.value.detail or "")
    assert info.value.params["trace_id"] == fake.trace_ids[0]
    assert fake.trace_ids[0] in (info.value.detail or "")


def test_a_timeout_after_sending_is_recorded_as_possibly_billed(fake: FakeSiliconFlow) -> None:
    fake.delay = 2.0
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url, timeout=0.3).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"
    assert info.value.params["possibly_billed"] is True
    assert "bill" in (info.value.detail or "")


def test_a_lost_result_is_recorded_as_billed(fake: FakeSiliconFlow) -> None:
    fake.result_status = 403
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.params["billed"] is True
    assert info.value.params["trace_id"] == fake.trace_ids[0]


def test_siliconflow_has_a_default_budget_of_its_documented_rate() -> None:
    from rekindle.engines.budget import MemoryBudgets

    budgets = MemoryBudgets(Settings(_env_file=None))
    first, second, third = (budgets.admit("siliconflow") for _ in range(3))
    assert first.allowed and second.allowed
    assert not third.allowed and third.wait_seconds > 0  # the burst waits in the queue
    lifted = MemoryBudgets(Settings(_env_file=None, engine_budgets={"siliconflow": {}}))
    assert all(lifted.admit("siliconflow").allowed for _ in range(5))


def test_png_input_gets_a_png_data_uri(fake: FakeSiliconFlow) -> None:
    make_engine(fake.api_url).restore(RestoreRequest(image=png_bytes()))
    assert fake.payloads[0]["image"].startswith("data:image/png;base64,")


def test_prompt_options_are_appended_and_capped(fake: FakeSiliconFlow) -> None:
    engine = make_engine(fake.api_url)
    engine.restore(RestoreRequest(image=IMAGE, colorize=True, prompt="Keep the red scarf."))
    prompt = fake.payloads[0]["prompt"]
    assert prompt.startswith("Restore this old damaged photo.")
    assert "Colorize" in prompt and prompt.endswith("Keep the red scarf.")

    engine.restore(RestoreRequest(image=IMAGE, prompt="x" * 2000, denoise=1.0))
    prompt = fake.payloads[1]["prompt"]
    assert len(prompt) == MAX_PROMPT_CHARS
    assert "Remove film grain" in prompt


ERROR_ROWS = [
    # (status, body as SiliconFlow documents it, our code, user message)
    (401, "Invalid token", "provider_auth_failed", "Service configuration error"),
    (
        429,
        {
            "message": "Request was rejected due to rate limiting. Details:TPM limit reached.",
            "data": "",
        },
        "provider_busy",
        "Service busy, please try again",
    ),
    (
        400,
        {"code": 20015, "message": "The parameter is invalid.", "data": None},
        "provider_rejected_image",
        "Image could not be processed",
    ),
    (504, "gateway timeout", "provider_timeout", "Service timeout, please retry"),
    (
        503,
        {"code": 50505, "message": "Model service overloaded. Please try again later.", "data": ""},
        "provider_busy",
        "Service busy, please try again",
    ),
    (
        403,
        {"code": 30001, "message": "Sorry, your account balance is insufficient", "data": None},
        "provider_insufficient_balance",
        "Service configuration error",
    ),
    (403, "Forbidden", "provider_auth_failed", "Service configuration error"),
    (502, b"<html>Bad Gateway</html>", "provider_unavailable", "Service unavailable"),
    (
        500,
        {"code": 50000, "message": "Unknown error", "data": None},
        "provider_unavailable",
        "Service unavailable",
    ),
]


@pytest.mark.parametrize(("status", "body", "code", "message"), ERROR_ROWS)
def test_error_rows(fake: FakeSiliconFlow, status, body, code, message) -> None:
    fake.fail(status, body)
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == code
    assert info.value.message == message
    assert f"HTTP {status}" in (info.value.detail or "")
    text = (
        body
        if isinstance(body, str)
        else body.decode()
        if isinstance(body, bytes)
        else body["message"]
    )
    assert text in (info.value.detail or "")
    assert fake.count("POST", "/v1/images/generations") == 1  # fail fast: no retry
    assert fake.count("GET", "/cdn/") == 0


def test_wrong_key_is_a_configuration_error(fake: FakeSiliconFlow) -> None:
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url, key="sk-wrong").restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_auth_failed"
    assert "Invalid token" in (info.value.detail or "")


def test_slow_answer_hits_our_timeout(fake: FakeSiliconFlow) -> None:
    fake.delay = 3.0
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url, timeout=0.5).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"
    assert info.value.message == "Service timeout, please retry"
    assert time.monotonic() - started < 2.0


def test_slow_download_hits_our_timeout(fake: FakeSiliconFlow) -> None:
    fake.download_delay = 3.0
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url, timeout=0.5).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_timeout"


def test_network_error_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = make_engine(f"http://127.0.0.1:{port}/v1/images/generations", timeout=2.0)
    with pytest.raises(EngineError) as info:
        engine.restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_unavailable"
    assert info.value.message == "Service unavailable"


def test_malformed_json_is_a_bad_result(fake: FakeSiliconFlow) -> None:
    fake.malformed = True
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"
    assert "malformed JSON" in (info.value.detail or "")


def test_answer_without_images_is_a_bad_result(fake: FakeSiliconFlow) -> None:
    fake.no_images = True
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"


@pytest.mark.parametrize(
    "result",
    [b"<html><body>Not found</body></html>", png_bytes(200, 200)[:300]],
    ids=["html", "truncated-png"],
)
def test_non_image_result_is_a_bad_result(fake: FakeSiliconFlow, result: bytes) -> None:
    fake.result = result
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"
    assert info.value.message == "Image could not be processed"


def test_expired_result_url_is_a_bad_result(fake: FakeSiliconFlow) -> None:
    fake.result_status = 403
    with pytest.raises(EngineError) as info:
        make_engine(fake.api_url).restore(RestoreRequest(image=IMAGE))
    assert info.value.code == "provider_bad_result"
    assert "403" in (info.value.detail or "")


def test_one_instance_serves_many_threads_within_its_bound(fake: FakeSiliconFlow) -> None:
    fake.delay = 0.3
    engine = make_engine(fake.api_url, in_flight=2)
    results: list[object] = []

    def work() -> None:
        try:
            results.append(engine.restore(RestoreRequest(image=IMAGE)))
        except EngineError as exc:
            results.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert all(not isinstance(r, EngineError) for r in results) and len(results) == 4
    assert elapsed >= 0.55  # four calls, two at a time, 0.3 s each
    assert fake.count("POST", "/v1/images/generations") == 4
    assert fake.peak_in_flight == 2


def test_default_worker_threads_leave_room_over_every_remote_bound() -> None:
    """A worker's threads do local work (claim, storage, record) outside their provider slot;
    with no more threads than slots, slots sit idle meanwhile (issue 16; docs/benchmarks.md,
    tenth pass)."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    bounds = (
        settings.siliconflow_max_in_flight,
        settings.comfyui_max_in_flight,
        settings.runpod_max_in_flight,
    )
    assert settings.worker_concurrency >= 2 * max(bounds)


def test_in_flight_bound_refuses_when_no_slot_frees() -> None:
    bound = http.InFlight("test", 1)
    with bound.slot(0.1), pytest.raises(EngineError) as info, bound.slot(0.05):
        pass
    assert info.value.code == "provider_busy"


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_kept_alive_connection_closed_unanswered_is_sent_again(how: str) -> None:
    # Issue 16: the server's idle timer closed a reused connection just as the request arrived
    # (the benchmark lost 1-3 attempts in 500 with "Server disconnected without sending a
    # response"). The server never read it, so it is sent once more, on a new connection.
    with KeepAliveClosingSiliconFlow(how=how) as server:  # type: ignore[arg-type]
        engine = make_engine(server.api_url)
        engine.restore(RestoreRequest(image=IMAGE, seed=1))  # leaves a kept-alive connection
        server.drop_reused = 1
        result = engine.restore(RestoreRequest(image=IMAGE, seed=2))

        assert result.data == server.result
        assert server.dropped == 1
        assert server.applied == 2  # one generation per restoration, none twice
        assert server.connections == 2


def test_a_result_download_closed_unanswered_is_sent_again() -> None:
    with KeepAliveClosingSiliconFlow() as server:
        engine = make_engine(server.api_url)
        engine.restore(RestoreRequest(image=IMAGE, seed=1))
        server.drop_reused = 2  # the generation request, then its download on the new connection
        result = engine.restore(RestoreRequest(image=IMAGE, seed=2))

        assert result.data == server.result
        assert server.dropped == 2
        assert server.applied == 2


def test_a_connection_closed_unanswered_is_sent_again_only_once() -> None:
    with KeepAliveClosingSiliconFlow() as server:
        engine = make_engine(server.api_url, in_flight=1)
        engine.restore(RestoreRequest(image=IMAGE, seed=1))
        # the drop, then the retry's new connection is read and dropped: no third try
        server.drop_reused = 1
        server.drop_fresh_after_reading = 1
        with pytest.raises(EngineError) as failure:
            engine.restore(RestoreRequest(image=IMAGE, seed=2))

        assert failure.value.code == "provider_unavailable"
        assert "Server disconnected without sending a response" in (failure.value.detail or "")
        assert server.applied == 2


def test_a_fresh_connection_closed_unanswered_is_not_sent_again() -> None:
    # The server read the request before hanging up: it may have been applied (and billed).
    with KeepAliveClosingSiliconFlow() as server:
        server.drop_fresh_after_reading = 1
        engine = make_engine(server.api_url)
        with pytest.raises(EngineError) as failure:
            engine.restore(RestoreRequest(image=IMAGE, seed=1))

        assert failure.value.code == "provider_unavailable"
        assert server.applied == 1
        assert server.connections == 1


def test_each_thread_gets_its_own_small_pool_and_close_closes_them_all() -> None:
    # One pool per worker thread (issue 16): httpcore's shared pool was quadratic in its
    # connections.
    clients = http.ThreadClients(timeout=5)
    seen: list[object] = []

    def work() -> None:
        seen.append(clients.get())
        assert clients.get() is seen[-1]

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mine = clients.get()

    assert len({id(c) for c in [*seen, mine]}) == 4
    clients.close()
    assert all(c.is_closed for c in [*seen, mine])  # type: ignore[attr-defined]


def test_the_threads_clients_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading certifi's CA bundle cost ~20 ms of CPU per thread's client (issue 16, fifth pass):
    # the bundle is loaded once per ThreadClients, with the same verification as before.
    made: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(create(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    clients = http.ThreadClients(timeout=5)
    seen: list[httpx.Client] = []
    threads = [threading.Thread(target=lambda: seen.append(clients.get())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.append(clients.get())

    assert len({id(c) for c in seen}) == 4
    assert len(made) == 1
    assert made[0].verify_mode == ssl.CERT_REQUIRED and made[0].check_hostname
    clients.close()
