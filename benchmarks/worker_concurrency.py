"""Worker concurrency: remote restorations in flight in ONE worker process.

A local SiliconFlow stand-in answers every request after 2 s (tests/engines/fakes). N restorations
go through the API and one `rekindle worker` on PostgreSQL + Redis + S3 (moto), first with our
thread pool, then with Celery's default prefork pool (concurrency = CPU count), in the same run.
Reported: restorations per second (N / time from the first request to the last completion) and
the most restorations in flight at once (overlap of the attempts' processing intervals).

    uv run python -m benchmarks.worker_concurrency [--count 200] [--threads 64]
"""

from __future__ import annotations

import argparse
import io
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from PIL import Image
from sqlalchemy import select

from rekindle.models import RestoreAttempt
from tests.engines.fakes import FakeSiliconFlow
from tests.engines.fakes.siliconflow import API_KEY
from tests.support.services import moto_s3, postgres_database, redis_url
from tests.support.stack import Stack, running_stack, stack_settings

PROVIDER_SECONDS = 2.0


def _photo_bytes() -> bytes:
    rng = np.random.default_rng(7)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = best = 0
    for _, delta in edges:
        current += delta
        best = max(best, current)
    return best


def _run(stack: Stack, count: int) -> dict[str, float]:
    data = _photo_bytes()
    user = f"bench-{uuid.uuid4().hex[:6]}"
    headers = stack.auth(user)

    def upload(_: int) -> str:
        response = stack.client.post(
            "/api/v1/photos", headers=headers, files={"file": ("p.jpg", data, "image/jpeg")}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    with ThreadPoolExecutor(16) as pool:
        photo_ids = list(pool.map(upload, range(count)))
        started = time.monotonic()
        accepted = list(
            pool.map(
                lambda pid: stack.restore(pid, user=user, engine="siliconflow").status_code,
                photo_ids,
            )
        )
    assert accepted.count(202) == count, accepted
    sessions = stack.runtime.sessions
    while True:
        with sessions() as session:
            rows = session.execute(
                select(RestoreAttempt.status, RestoreAttempt.started_at, RestoreAttempt.finished_at)
            ).all()
        done = [r for r in rows if r.status in ("completed", "failed")]
        if len(done) >= count:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    failed = sum(r.status == "failed" for r in done)
    intervals = [(r.started_at.timestamp(), r.finished_at.timestamp()) for r in done]
    return {
        "seconds": elapsed,
        "per_second": count / elapsed,
        "in_flight": _max_overlap(intervals),
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    results = {}
    with FakeSiliconFlow() as fake, moto_s3() as s3, TemporaryDirectory() as tmp:
        fake.delay = PROVIDER_SECONDS
        for pool, concurrency in (("threads", args.threads), ("prefork", cpus)):
            with postgres_database() as database_url:
                values = stack_settings(
                    "production",
                    Path(tmp) / pool,
                    postgres_url=database_url,
                    redis_url=redis_url(),
                    s3_endpoint=s3,
                    rekindle_engines_allowed="classic,siliconflow",
                    siliconflow_api_key=API_KEY,
                    siliconflow_api_url=fake.api_url,
                    siliconflow_max_in_flight=args.threads,
                    worker_concurrency=concurrency,
                    price_restore=0,  # one user, 200 restorations: concurrency, not credits
                )
                with running_stack(values, "production", worker=False) as stack:
                    from tests.support.stack import worker_process

                    with worker_process(
                        stack.env, f"--pool={pool}", f"--concurrency={concurrency}"
                    ):
                        results[pool] = _run(stack, args.count)
            r = results[pool]
            print(
                f"{pool:8} concurrency={concurrency:3}  {args.count} restorations in "
                f"{r['seconds']:.1f} s = {r['per_second']:.2f}/s, max in flight {r['in_flight']}, "
                f"failed {r['failed']}",
                flush=True,
            )
    ratio = results["threads"]["per_second"] / results["prefork"]["per_second"]
    print(
        f"\nthreads / prefork throughput: {ratio:.1f}x (provider answers after {PROVIDER_SECONDS} s,"
        f" {cpus} CPUs)"
    )


if __name__ == "__main__":
    main()
