"""PostgreSQL restarted under load: requests in flight while the database goes away and comes
back get either their normal answer or a clean 503 with a code (never a 500), and once it is back
every photo settles, every failed attempt is refunded once, and no object is orphaned."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.faults.conftest import fault_stack
from tests.faults.services import (
    assert_credits_settled,
    assert_no_orphans,
    assert_nothing_stuck,
    own_postgres,
    own_redis,
)
from tests.support.services import shared_photo
from tests.support.stack import Stack, worker_process

CLIENTS = 6
USERS = 3
DOWN_SECONDS = 2.0
RUN_SECONDS = 8.0
CLEAN_503 = {"database_unavailable", "queue_unavailable", "storage_unavailable"}


def _client_loop(stack: Stack, user: str, stop: threading.Event, seen: list[tuple[str, int, str]]):
    """Upload, restore, read, list, again and again until `stop`; record every answer."""
    path = shared_photo("real-old/bw-two-people-1919.jpg")
    data = path.read_bytes()
    headers = stack.auth(user)
    with httpx.Client(base_url=stack.base_url, timeout=30, headers=headers) as client:
        while not stop.is_set():
            upload = client.post("/api/v1/photos", files={"file": (path.name, data)})
            seen.append(("upload", upload.status_code, _code(upload)))
            if upload.status_code != 201:
                time.sleep(0.2)
                continue
            photo_id = upload.json()["id"]
            restore = client.post(f"/api/v1/photos/{photo_id}/restore")
            seen.append(("restore", restore.status_code, _code(restore)))
            got = client.get(f"/api/v1/photos/{photo_id}")
            seen.append(("get", got.status_code, _code(got)))
            listed = client.get("/api/v1/photos", params={"limit": 5})
            seen.append(("list", listed.status_code, _code(listed)))


def _code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except Exception:
        return f"unparsed: {response.text[:80]}"


def test_postgres_restart_under_load(tmp_path: Path, s3_endpoint: str) -> None:
    with (
        own_postgres() as postgres,
        own_redis(persistent=False) as redis,
        fault_stack(
            tmp_path,
            redis_url=redis.url,
            s3_endpoint=s3_endpoint,
            database_url=postgres.url,
            task_time_limit_seconds=15,
            pending_time_limit_seconds=30,
            free_credits=100,
        ) as stack,
        worker_process(stack.env, "--concurrency=4", "--beat"),
    ):
        users = [f"pg-load-{n}" for n in range(USERS)]
        for user in users:  # users exist before the fault
            assert stack.client.get("/api/v1/me", headers=stack.auth(user)).status_code == 200
        seen: list[tuple[str, int, str]] = []
        stop = threading.Event()
        with ThreadPoolExecutor(CLIENTS) as pool:
            loops = [
                pool.submit(_client_loop, stack, users[n % USERS], stop, seen)
                for n in range(CLIENTS)
            ]
            time.sleep((RUN_SECONDS - DOWN_SECONDS) / 2)
            postgres.stop()
            time.sleep(DOWN_SECONDS)
            postgres.start()
            time.sleep((RUN_SECONDS - DOWN_SECONDS) / 2)
            stop.set()
            for loop in loops:
                loop.result()

        statuses = Counter((status, code) for _, status, code in seen)
        bad = {key: n for key, n in statuses.items() if key[0] >= 500 and key[1] not in CLEAN_503}
        assert not bad, f"server errors other than clean 503s: {bad}; all: {statuses}"
        assert any(status == 503 for status, _ in statuses), f"the outage was not seen: {statuses}"
        assert any(s == 201 for s, _ in statuses) and any(s == 202 for s, _ in statuses)

        # Once the database is back, every photo settles (restorations run, or the sweep fails
        # what a worker could not record while the database was away).
        deadline = time.monotonic() + 60
        while True:
            try:
                assert_nothing_stuck(stack)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for user in users:
            assert_credits_settled(stack, user)
        assert_no_orphans(stack)
        print(f"answers during the restart: {dict(statuses)}")
