"""Provider budgets: ceilings per engine shared by every worker; work beyond them waits pending.

The acceptance test (issue 8, point 2) runs two `rekindle worker` processes on one Redis with a
SiliconFlow budget of 3 requests per window (5 s here, `BUDGET_WINDOW_SECONDS`) and checks, at a
local SiliconFlow that stamps each generation request, that no window ever saw more than 3.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from rekindle.config import Settings
from rekindle.engines.budget import MARGIN_SECONDS, MemoryBudgets, RedisBudgets
from rekindle.models import RestoreAttempt
from rekindle.restoration.runner import sweep_stuck_attempts
from tests.engines.fakes import FakeSiliconFlow
from tests.engines.fakes.siliconflow import API_KEY
from tests.production.helpers import json_lines, logged_worker, small_png
from tests.support.services import postgres_database, redis_url
from tests.support.stack import Stack, running_stack, stack_settings

WINDOW = 5
PER_WINDOW = 3


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_budget_caps_starts_per_window_and_in_flight() -> None:
    clock = Clock()
    budgets = MemoryBudgets(
        _settings(
            engine_budgets={"siliconflow": {"requests_per_minute": 2, "max_in_flight": 1}},
            budget_window_seconds=10,
        ),
        clock=clock,
    )
    assert budgets.admit("classic").allowed  # no budget: always admitted
    first = budgets.admit("siliconflow")
    assert first.allowed
    busy = budgets.admit("siliconflow")
    assert (busy.allowed, busy.reason) == (False, "in_flight")
    first.release()
    first.release()  # idempotent
    clock.now += 1
    second = budgets.admit("siliconflow")
    assert second.allowed
    second.release()
    spent = budgets.admit("siliconflow")
    assert (spent.allowed, spent.reason) == (False, "rate")
    # The oldest start (t=1000) leaves the window (10 s + margin) at 1011 + margin - 1.
    assert spent.wait_seconds == pytest.approx(10 + MARGIN_SECONDS - 1)
    clock.now += spent.wait_seconds + 0.01
    assert budgets.admit("siliconflow").allowed


def test_memory_budget_leases_expire() -> None:
    """A worker killed mid-call cannot keep its in-flight slot for longer than the lease."""
    clock = Clock()
    settings = _settings(
        engine_budgets={"comfyui": {"max_in_flight": 1}}, task_time_limit_seconds=30
    )
    budgets = MemoryBudgets(settings, clock=clock)
    assert budgets.admit("comfyui").allowed  # never released: its worker died
    assert not budgets.admit("comfyui").allowed
    clock.now += 30 + 60 + 1
    assert budgets.admit("comfyui").allowed


@pytest.fixture
def redis_budgets() -> Iterator[tuple[RedisBudgets, RedisBudgets]]:
    url = redis_url()
    settings = _settings(
        redis_url=url,
        engine_budgets={"siliconflow": {"requests_per_minute": 3, "max_in_flight": 2}},
        budget_window_seconds=1,
        task_time_limit_seconds=1,
    )
    a, b = RedisBudgets(settings, url), RedisBudgets(settings, url)
    a.reset()
    yield a, b
    a.reset()


def test_redis_budget_is_shared_between_workers(
    redis_budgets: tuple[RedisBudgets, RedisBudgets],
) -> None:
    a, b = redis_budgets
    first, second = a.admit("siliconflow"), b.admit("siliconflow")
    assert first.allowed and second.allowed
    full = a.admit("siliconflow")
    assert (full.allowed, full.reason) == (False, "in_flight")
    first.release()
    third = b.admit("siliconflow")
    assert third.allowed
    third.release()
    second.release()
    spent = a.admit("siliconflow")
    assert (spent.allowed, spent.reason) == (False, "rate")
    assert 0 < spent.wait_seconds <= 1 + MARGIN_SECONDS
    time.sleep(spent.wait_seconds + 0.05)
    assert b.admit("siliconflow").allowed


def test_redis_budget_waiting_markers(redis_budgets: tuple[RedisBudgets, RedisBudgets]) -> None:
    a, b = redis_budgets
    waiting, other = uuid.uuid4(), uuid.uuid4()
    a.mark_waiting(waiting, 5)
    assert b.waiting([waiting, other]) == {str(waiting)}
    b.clear_waiting(waiting)
    assert a.waiting([waiting, other]) == set()


class StampingSiliconFlow(FakeSiliconFlow):
    """The fake SiliconFlow, also stamping each generation request with the time it arrived."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self._stamp_lock = threading.Lock()
        super().__init__()

    async def generate(self, request: Request) -> Response:
        with self._stamp_lock:
            self.stamps.append(time.monotonic())
        return await super().generate(request)


@pytest.fixture
def budget_stack(tmp_path: Path, s3_endpoint: str) -> Iterator[tuple[Stack, StampingSiliconFlow]]:
    with StampingSiliconFlow() as fake, postgres_database() as database_url:
        values = stack_settings(
            "production",
            tmp_path / "data",
            postgres_url=database_url,
            redis_url=redis_url(),
            s3_endpoint=s3_endpoint,
            rekindle_engines_allowed="classic,siliconflow",
            siliconflow_api_key=API_KEY,
            siliconflow_api_url=fake.api_url,
            engine_budgets=json.dumps(
                {"siliconflow": {"requests_per_minute": PER_WINDOW, "max_in_flight": 8}}
            ),
            budget_window_seconds=WINDOW,
        )
        with running_stack(values, "production", worker=False) as stack:
            yield stack, fake


def _statuses(stack: Stack, attempt_ids: list[str]) -> dict[str, str]:
    with stack.runtime.sessions() as session:
        rows = session.query(RestoreAttempt.id, RestoreAttempt.status).filter(
            RestoreAttempt.id.in_([uuid.UUID(a) for a in attempt_ids])
        )
        return {str(attempt_id): str(status) for attempt_id, status in rows}


def test_two_workers_never_exceed_the_budget(
    budget_stack: tuple[Stack, StampingSiliconFlow], tmp_path: Path
) -> None:
    stack, fake = budget_stack
    env = {**stack.env, "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with logged_worker(env, logs[0]), logged_worker(env, logs[1]):
        attempts: list[str] = []
        for n in range(8):
            user = f"budget-{n}"
            upload = stack.client.post(
                "/api/v1/photos",
                headers=stack.auth(user),
                files={"file": (f"p{n}.png", small_png(n), "image/png")},
            )
            assert upload.status_code == 201, upload.text
            accepted = stack.client.post(
                f"/api/v1/photos/{upload.json()['id']}/restore",
                headers={**stack.auth(user), "X-Request-ID": f"budget-req-{n}"},
                json={"engine": "siliconflow"},
            )
            assert accepted.status_code == 202, accepted.text
            attempts.append(accepted.json()["id"])

        # The first window: exactly 3 reach the provider; the other 5 wait, pending, not failed.
        deadline = time.monotonic() + 30
        while len(fake.stamps) < PER_WINDOW and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.stamps) == PER_WINDOW
        time.sleep(1.5)
        assert len(fake.stamps) == PER_WINDOW
        statuses = _statuses(stack, attempts)
        assert sorted(statuses.values()).count("pending") == 8 - PER_WINDOW, statuses
        assert "failed" not in statuses.values()
        # Merely waiting on a budget is not "stuck": the sweep leaves them alone even when they
        # are past the pending time limit.
        stack.runtime.settings.pending_time_limit_seconds = 0
        try:
            assert sweep_stuck_attempts(stack.runtime) == 0
        finally:
            stack.runtime.settings.pending_time_limit_seconds = 1800

        # Then the rest complete, window after window.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            statuses = _statuses(stack, attempts)
            if all(s in ("completed", "failed") for s in statuses.values()):
                break
            time.sleep(0.2)
        assert set(statuses.values()) == {"completed"}, statuses

    stamps = sorted(fake.stamps)
    assert len(stamps) == 8
    # At most 3 in any window: every 4th request came at least a full window after the 1st.
    gaps = [stamps[i + PER_WINDOW] - stamps[i] for i in range(len(stamps) - PER_WINDOW)]
    assert min(gaps) >= WINDOW, gaps
    # Both workers took part, and attempts that waited kept their request id when re-queued.
    per_worker = [json_lines(path) for path in logs]
    for lines in per_worker:
        assert any(line.get("message") == "restoration started" for line in lines), lines[-20:]
    deferred = [
        line
        for lines in per_worker
        for line in lines
        if line.get("message", "").startswith("restoration waits for the siliconflow budget")
    ]
    assert deferred
    for line in deferred:
        index = attempts.index(line["attempt_id"])
        assert line["request_id"] == f"budget-req-{index}"


def test_animation_budget_defers_on_the_embedded_queue(tmp_path: Path) -> None:
    """Animations have budgets too (`animation:{engine}`); on the embedded queue the one worker
    keeps them in memory. One preview per 2 s window: the second waits pending, then renders."""
    values = stack_settings(
        "embedded",
        tmp_path,
        engine_budgets=json.dumps({"animation:local": {"requests_per_minute": 1}}),
        budget_window_seconds=2,
        animation_duration_seconds=1.0,
    )
    with running_stack(values, "embedded") as stack:
        started = []
        for n in range(2):
            user = f"animate-budget-{n}"
            photo = stack.client.post(
                "/api/v1/photos",
                headers=stack.auth(user),
                files={"file": ("p.png", small_png(n, (320, 240)), "image/png")},
            ).json()
            accepted = stack.client.post(
                f"/api/v1/photos/{photo['id']}/animate", headers=stack.auth(user)
            )
            assert accepted.status_code == 202, accepted.text
            started.append((user, photo["id"], accepted.json()["id"], time.monotonic()))
        finished = {}
        deadline = time.monotonic() + 60
        while len(finished) < 2 and time.monotonic() < deadline:
            for user, photo_id, attempt_id, _ in started:
                body = stack.client.get(
                    f"/api/v1/photos/{photo_id}/animations/{attempt_id}", headers=stack.auth(user)
                ).json()
                if body["status"] in ("completed", "failed") and attempt_id not in finished:
                    finished[attempt_id] = (body["status"], time.monotonic())
            time.sleep(0.1)
        assert [status for status, _ in finished.values()] == ["completed", "completed"]
        first, second = sorted(at for _, at in finished.values())
        # Unbudgeted, the two render side by side (4 worker threads) and finish together; here the
        # second could only start once the first left the 2 s window (+1 s margin).
        assert second - first >= 1.5, (first, second)
