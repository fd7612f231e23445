"""Load: N concurrent uploads of real photos, then N concurrent `classic` restorations, against ONE
API process (`rekindle serve --no-worker`) and ONE worker process (`rekindle worker`), as an operator
would run them.

    uv run python -m benchmarks.load --stack production   # PostgreSQL, Redis, S3 (moto_server)
    uv run python -m benchmarks.load --stack embedded     # SQLite, local folder, SQLite broker

`production` uses a fresh database on the PostgreSQL at 127.0.0.1:5432 (dropped afterwards), a
private `redis-server` and a `moto_server` process on free ports. `embedded` uses a temporary data
folder. The photos are ../shared/photos/real-old (16 files, cycled). N users with the default free
credits share the restorations (10 each); rate limits are switched off, because the point is the
service's capacity, not its per-user quotas.

Recorded (JSON in benchmarks/results/load-<stack>.json, and printed): every answer's status (the
run fails on any 5xx or any photo not `ready`); p50/p95/p99/max latency of the upload requests and
of the restore requests (client side, seconds); per restoration, queue wait (accepted -> started),
processing (started -> finished) and end to end (accepted -> finished), from the attempts'
server timestamps; wall time of each phase; peak resident memory (VmHWM, MiB) and CPU seconds of the
API and the worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "photos" / "real-old"
RESULTS = REPO / "benchmarks" / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CREDITS_PER_USER = 10  # the default FREE_CREDITS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean of `values` (seconds), rounded to milliseconds."""
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "p50": round(pick(0.50), 3),
        "p95": round(pick(0.95), 3),
        "p99": round(pick(0.99), 3),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


class ProcessStats:
    """Peak resident memory (VmHWM, MiB) and CPU seconds of a process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mib = 0.0
        self.cpu_seconds = 0.0

    def sample(self) -> None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mib = max(self.peak_mib, int(line.split()[1]) / 1024)
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            self.cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
        except (FileNotFoundError, ProcessLookupError):
            pass


def start_services(stack: ExitStack, kind: str, data_dir: Path) -> dict[str, str]:
    """The backing services of `kind`; returns the settings as environment variables."""
    env = {
        "REKINDLE_DATA_DIR": str(data_dir),
        "REKINDLE_ENGINE": "classic",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    if kind == "embedded":
        return env
    import boto3
    import psycopg

    name = f"rekindle_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    redis_port = free_port()
    redis_dir = tempfile.mkdtemp(prefix="rekindle-load-redis-")
    stack.callback(shutil.rmtree, redis_dir, ignore_errors=True)
    redis = subprocess.Popen(
        [
            *("redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--dir", redis_dir, "--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, redis)
    endpoint, _ = start_moto(stack)
    bucket = "rekindle-load"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=bucket)
    env.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_moto(stack: ExitStack) -> tuple[str, subprocess.Popen[bytes]]:
    """A `moto_server` (S3) on a free port of 127.0.0.1, stopped when `stack` closes, once it
    answers: (endpoint URL, process)."""
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(_stop, moto)
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/")
    return endpoint, moto


def rekindle(stack: ExitStack, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rekindle", *args],
        env={**os.environ, **env},
        cwd=env["REKINDLE_DATA_DIR"],  # no stray .env is read
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, process)
    return process


async def timed(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    return time.perf_counter() - started, response


async def run_load(base: str, tokens: list[str], count: int, poll_timeout: float) -> dict[str, Any]:
    files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    payloads = [(f.name, f.read_bytes()) for f in files]
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:

        def auth(n: int) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[n // CREDITS_PER_USER]}"}

        # 1. uploads, all at once
        print("phase: uploads", file=sys.stderr, flush=True)
        started = time.perf_counter()
        uploads = await asyncio.gather(
            *(
                timed(
                    client,
                    "POST",
                    "/api/v1/photos",
                    headers=auth(n),
                    files={"file": payloads[n % len(payloads)]},
                )
                for n in range(count)
            )
        )
        upload_wall = time.perf_counter() - started
        statuses.update(r.status_code for _, r in uploads)
        photo_ids = [r.json()["id"] if r.status_code == 201 else None for _, r in uploads]

        # 2. restorations, all at once
        print("phase: restorations", file=sys.stderr, flush=True)
        started = time.perf_counter()
        restores = await asyncio.gather(
            *(
                timed(
                    client, "POST", f"/api/v1/photos/{photo_id}/restore", headers=auth(n), json={}
                )
                for n, photo_id in enumerate(photo_ids)
                if photo_id
            )
        )
        restore_wall = time.perf_counter() - started
        statuses.update(r.status_code for _, r in restores)

        # 3. until every photo is ready (one list request per user per second)
        print("phase: waiting for every photo", file=sys.stderr, flush=True)
        deadline = time.monotonic() + poll_timeout
        ready: dict[str, str] = {}
        polls = 0
        while time.monotonic() < deadline:
            pages = await asyncio.gather(
                *(
                    client.get(
                        "/api/v1/photos",
                        headers={"Authorization": f"Bearer {t}"},
                        params={"limit": 100},
                    )
                    for t in tokens
                )
            )
            polls += len(pages)
            statuses.update(p.status_code for p in pages)
            ready = {
                item["id"]: item["status"]
                for page in pages
                if page.status_code == 200
                for item in page.json()["items"]
            }
            if sum(1 for s in ready.values() if s != "processing") >= len(photo_ids):
                break
            await asyncio.sleep(1)
        all_done_wall = time.perf_counter() - started

        # 4. the attempts' server timestamps
        print("phase: reading the attempts", file=sys.stderr, flush=True)
        details = await asyncio.gather(
            *(
                client.get(f"/api/v1/photos/{photo_id}", headers=auth(n))
                for n, photo_id in enumerate(photo_ids)
                if photo_id
            )
        )
        statuses.update(d.status_code for d in details)
    queue_wait, processing, end_to_end, engine_seconds = [], [], [], []
    attempt_status: Counter[str] = Counter()
    for detail in details:
        if detail.status_code != 200:
            continue
        attempt = detail.json()["restore_attempts"][0]
        attempt_status[attempt["status"]] += 1
        if attempt["finished_at"] and attempt["started_at"]:
            created = datetime.fromisoformat(attempt["created_at"])
            began = datetime.fromisoformat(attempt["started_at"])
            finished = datetime.fromisoformat(attempt["finished_at"])
            queue_wait.append((began - created).total_seconds())
            processing.append((finished - began).total_seconds())
            end_to_end.append((finished - created).total_seconds())
            timings = attempt["params"].get("timings", {})
            if "engine_seconds" in timings:
                engine_seconds.append(float(timings["engine_seconds"]))
    photo_status = Counter(ready.values())
    return {
        "count": count,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "photo_status": dict(photo_status),
        "attempt_status": dict(attempt_status),
        "upload": {"wall_seconds": round(upload_wall, 2), **percentiles([t for t, _ in uploads])},
        "restore_request": {
            "wall_seconds": round(restore_wall, 2),
            **percentiles([t for t, _ in restores]),
        },
        "restore_queue_wait": percentiles(queue_wait),
        "restore_processing": percentiles(processing),
        "restore_engine": percentiles(engine_seconds),
        "restore_end_to_end": percentiles(end_to_end),
        "all_restored_wall_seconds": round(all_done_wall, 2),
        "restorations_per_second": round(len(end_to_end) / all_done_wall, 2)
        if all_done_wall
        else None,
        "status_polls": polls,
        "upload_bytes_total": sum(len(payloads[n % len(payloads)][1]) for n in range(count)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["production", "embedded"], default="production")
    parser.add_argument("--count", type=int, default=200, help="uploads, then restorations")
    parser.add_argument("--worker-concurrency", type=int, default=None)
    parser.add_argument("--poll-timeout", type=float, default=1800, help="seconds")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        sys.exit(f"{PHOTOS} is absent")

    with ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="rekindle-load-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        env = start_services(stack, args.stack, data_dir)
        if args.worker_concurrency:
            env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
        if args.stack == "production":
            subprocess.run(
                [sys.executable, "-m", "rekindle", "migrate"],
                env={**os.environ, **env},
                cwd=data_dir,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        port = free_port()
        api = rekindle(
            stack, env, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        worker = rekindle(stack, env, "worker")
        wait_http(f"{base}/readyz")

        from rekindle.auth.tokens import TokenVerifier
        from rekindle.config import Settings

        verifier = TokenVerifier(Settings(_env_file=None, rekindle_data_dir=data_dir))  # type: ignore[call-arg]
        users = -(-args.count // CREDITS_PER_USER)
        tokens = [verifier.issue_local(f"load-{n}", None, 7200) for n in range(users)]

        stats = {"api": ProcessStats(api.pid), "worker": ProcessStats(worker.pid)}
        baseline = {}
        time.sleep(3)  # let the worker finish starting before measuring its baseline
        for name, stat in stats.items():
            stat.sample()
            baseline[name] = round(stat.peak_mib, 1)
        done = threading.Event()

        def sampler() -> None:
            while not done.is_set():
                for stat in stats.values():
                    stat.sample()
                time.sleep(0.2)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        result = asyncio.run(run_load(base, tokens, args.count, args.poll_timeout))
        done.set()
        thread.join()
        for stat in stats.values():
            stat.sample()
        result.update(
            stack=args.stack,
            machine={
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            worker_concurrency=int(env.get("WORKER_CONCURRENCY", 32)),
            users=users,
            memory_mib={
                name: {"idle": baseline[name], "peak": round(stat.peak_mib, 1)}
                for name, stat in stats.items()
            },
            cpu_seconds={name: round(stat.cpu_seconds, 1) for name, stat in stats.items()},
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{args.stack}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = result["server_errors"] == 0 and result["photo_status"] == {"ready": args.count}
    print(
        f"\n{'PASS' if ok else 'FAIL'}: 5xx={result['server_errors']} photos={result['photo_status']}"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
