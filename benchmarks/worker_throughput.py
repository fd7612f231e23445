"""Worker throughput for big batches (issue 16): restorations/s, % of ideal, failures and CPU
milliseconds per attempt of the API and of the worker (ONE process unless `--workers`), on the
production stack.

The stack: `rekindle serve --no-worker` and `rekindle worker --pool=threads` as separate processes,
a fresh PostgreSQL database, Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379/5, flushed),
`moto_server` for S3, and the local SiliconFlow stand-in (tests/engines/fakes) in this process.
Each scenario uploads N small photos (240×320 JPEG) as one user (credits enough for all; rate
limits off), sends the N restore requests with `--clients` concurrent HTTP clients, and waits for
every attempt to end (polling PostgreSQL directly, so the API does not pay for the polling).

Scenarios (same run, same processes):
- `instant`: the provider answers at once; restorations/s is the stack's ceiling.
- `delay2s`: the provider answers after 2 s; ideal = min(N, in-flight bound) / 2 s, so
  % of ideal = (N / wall) / (in-flight bound / 2 s). The bound is `--in-flight` (by default
  `--threads`), split among the workers as their SILICONFLOW_MAX_IN_FLIGHT; the stand-in reports
  the most requests it held at once (`provider_peak_in_flight`).

CPU ms per attempt = (user + sys time of the process during the restore phase, from /proc) / N,
for the API process and the worker process. It is much less sensitive to a busy machine than the
wall-clock figures. The same is measured for what serves the stack (`backing_cpu_ms_per_attempt`):
every PostgreSQL process, Redis, moto_server, and this process (the provider stand-in and the
completion poll). `timeline_seconds`: when the scenario's first and last attempts started and
finished, from its first request. `--profile DIR` also records the worker (the first one, with
`--workers`) with `py-spy record` (raw collapsed stacks).

    uv run python -m benchmarks.worker_throughput [--count 400] [--threads 128] [--in-flight N]
        [--clients 32] [--scenarios instant,delay2s] [--profile benchmarks/results/profile]
        [--batch] [--baseline-src /tmp/base/src] [--rounds 2] [--workers 1] [--json out.json]

`--baseline-src` runs another version's code beside this checkout's; `--rounds R` repeats both,
in alternating order, and reports the means (one run of the same code moves by up to 8 points of
"% of ideal", and the variant run first was often ahead: docs/benchmarks.md, sixth pass). `--workers N` starts N worker
processes with `--threads / N` threads each (the same in-flight bound in all) and a database
pool of 40 / N connections each (PostgreSQL's 100 here).

`--batch` sends the N restorations as ONE `POST /photos/restore-batch` (N <= 500): a big batch
through one worker. Settings of the stack: `ENGINE_BUDGETS={"siliconflow": {}}` (no provider
budget), `UPLOADS_PER_DAY=0` and `STORAGE_QUOTA_BYTES=0`, so no account ceiling throttles it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from benchmarks.load import ProcessStats, _stop, free_port, start_moto, wait_http

REPO = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _photo_bytes() -> bytes:
    rng = np.random.default_rng(7)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def _services(stack: ExitStack, data_dir: Path) -> tuple[dict[str, str], int]:
    """A fresh database, the flushed Redis and a `moto_server`: the stack's settings as
    environment variables, and moto's pid."""
    import boto3
    import psycopg
    import redis

    name = f"rekindle_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    redis.Redis.from_url(redis_url).flushdb()
    endpoint, moto = start_moto(stack)
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="rekindle-bench")
    settings = {
        "REKINDLE_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": redis_url,
        "S3_BUCKET": "rekindle-bench",
        "S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    return settings, moto.pid


def _rekindle(stack: ExitStack, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rekindle", *args],
        env={**os.environ, **env},
        cwd=env["REKINDLE_DATA_DIR"],
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, process)
    return process


class LockWaits:
    """Which statements of the stack wait for a lock while the restorations run: sampled with the
    completion poll (every ~0.1 s) from `pg_stat_activity` (`wait_event_type = 'Lock'`: a row or
    table lock held by another transaction), for this benchmark's database only."""

    QUERY = (
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    def __init__(self) -> None:
        self.samples = 0
        self.peak = 0
        self.by_statement: Counter[str] = Counter()

    def sample(self, db: Any) -> None:
        waiting = [row[0] for row in db.execute(self.QUERY).fetchall()]
        self.samples += 1
        self.peak = max(self.peak, len(waiting))
        self.by_statement.update(waiting)

    def summary(self) -> dict[str, Any]:
        """Mean and peak number of waiting connections, and the mean per statement (top 3)."""
        per_sample = max(self.samples, 1)
        return {
            "mean_waiting": round(sum(self.by_statement.values()) / per_sample, 2),
            "peak_waiting": self.peak,
            "by_statement": {
                statement: round(n / per_sample, 2)
                for statement, n in self.by_statement.most_common(3)
            },
        }


def _scenario(
    client: httpx.Client,
    database_url: str,
    token: str,
    count: int,
    clients: int,
    stats: dict[str, ProcessStats],
    backing: dict[str, Any],
    *,
    batch: bool = False,
) -> dict[str, Any]:
    """Upload `count` photos, restore them (one request each, or with `batch` ONE
    `POST /photos/restore-batch` of all of them) and wait until every attempt has ended."""
    import psycopg

    headers = {"Authorization": f"Bearer {token}"}
    data = _photo_bytes()

    def upload(_: int) -> str:
        response = client.post(
            "/api/v1/photos", headers=headers, files={"file": ("p.jpg", data, "image/jpeg")}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def restore(photo_id: str) -> int:
        response = client.post(
            f"/api/v1/photos/{photo_id}/restore", headers=headers, json={"engine": "siliconflow"}
        )
        return response.status_code

    def restore_batch(photo_ids: list[str]) -> list[int]:
        response = client.post(
            "/api/v1/photos/restore-batch",
            headers=headers,
            json={"photo_ids": photo_ids, "options": {"engine": "siliconflow"}},
        )
        response.raise_for_status()
        return [202 if item["status"] == "accepted" else 409 for item in response.json()["items"]]

    with ThreadPoolExecutor(clients) as pool:
        photo_ids = list(pool.map(upload, range(count)))
        with psycopg.connect(database_url, autocommit=True) as db:
            before_rows, failed_before = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'failed') FROM restore_attempts"
            ).fetchone()
            sessions_before = _pg_sessions(db)
        time.sleep(1)
        for stat in (*stats.values(), *backing.values()):
            stat.sample()
        cpu_before = {name: stat.cpu_seconds for name, stat in stats.items()}
        backing_before = {name: stat.cpu_seconds for name, stat in backing.items()}
        machine_before = _machine_busy_seconds()
        started, started_epoch = time.monotonic(), time.time()
        accepted = restore_batch(photo_ids) if batch else list(pool.map(restore, photo_ids))
    accept_wall = time.monotonic() - started
    ok = accepted.count(202)
    waits = LockWaits()
    with psycopg.connect(database_url, autocommit=True) as db:
        while True:
            done, failed = db.execute(
                "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')),"
                " count(*) FILTER (WHERE status = 'failed') FROM restore_attempts"
            ).fetchone()
            if done - before_rows >= ok:
                break
            waits.sample(db)
            time.sleep(0.1)
        wall = time.monotonic() - started
        machine = _machine_busy_seconds() - machine_before
        sessions_opened = _pg_sessions(db) - sessions_before
        timeline = _timeline(db, before_rows, started_epoch)
    for stat in (*stats.values(), *backing.values()):
        stat.sample()
    cpu = {name: stats[name].cpu_seconds - cpu_before[name] for name in stats}
    backing_cpu = {name: backing[name].cpu_seconds - backing_before[name] for name in backing}
    return {
        "count": count,
        "mode": "restore-batch" if batch else "restore",
        "accepted": ok,
        "refused": {str(s): accepted.count(s) for s in set(accepted) if s != 202},
        "failed": int(failed - failed_before),
        "wall_seconds": round(wall, 2),
        "accept_seconds": round(accept_wall, 2),
        "per_second": round(count / wall, 2),
        "cpu_ms_per_attempt": {name: round(1000 * c / count, 2) for name, c in cpu.items()},
        "cpu_ms_per_attempt_total": round(1000 * sum(cpu.values()) / count, 2),
        # the backing services and stand-ins: PostgreSQL (every server process), Redis,
        # moto_server, and this process (the SiliconFlow stand-in and the completion poll)
        "backing_cpu_ms_per_attempt": {
            name: round(1000 * c / count, 2) for name, c in backing_cpu.items()
        },
        "lock_waits": waits.summary(),
        "timeline_seconds": timeline,
        "pg_sessions_per_attempt": round(sessions_opened / count, 2),
        # every process of the machine (PostgreSQL, Redis, moto, the fake provider, and whatever
        # else runs on it: only meaningful on a quiet machine)
        "machine_cpu_ms_per_attempt": round(1000 * machine / count, 2),
        "machine_cores_busy": round(machine / wall, 2),
    }


def _timeline(db: Any, skip: int, started_epoch: float) -> dict[str, float]:
    """When this scenario's attempts started and finished, in seconds from its request: where a
    batch's wall time goes (the request itself, the first wave's start, the last wave's end).
    `skip`: the attempts of earlier scenarios (the oldest rows)."""
    row = db.execute(
        "SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(started_at)),"
        " extract(epoch FROM min(finished_at)), extract(epoch FROM max(finished_at))"
        " FROM (SELECT started_at, finished_at FROM restore_attempts"
        " ORDER BY created_at OFFSET %s) AS these",
        (skip,),
    ).fetchone()
    names = ("first_started", "last_started", "first_finished", "last_finished")
    return {
        name: round(float(value) - started_epoch, 2)
        for name, value in zip(names, row, strict=True)
        if value is not None
    }


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle or iowait) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _pg_sessions(db: Any) -> int:
    """Connections ever opened to this database (PostgreSQL >= 14; stats lag up to 1 s)."""
    time.sleep(1)
    db.execute("SELECT pg_stat_clear_snapshot()")
    row = db.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return int(row[0])


def _variant(args: argparse.Namespace, fake: Any, src: Path | None) -> dict[str, Any]:
    """Start the stack with the code in `src` (None: this checkout) and run every scenario."""
    from tests.engines.fakes.siliconflow import API_KEY

    label = "this checkout" if src is None else str(src)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="rekindle-bench-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        env, moto_pid = _services(stack, data_dir)
        env.update(
            REKINDLE_ENGINES_ALLOWED="classic,siliconflow",
            SILICONFLOW_API_KEY=API_KEY,
            SILICONFLOW_API_URL=fake.api_url,
            SILICONFLOW_MAX_IN_FLIGHT=str(args.in_flight // args.workers),  # per process
            WORKER_CONCURRENCY=str(args.threads),
            FREE_CREDITS=str(10 * args.count * 3),
            # no provider budget (the default one allows 2 SiliconFlow requests a minute) and no
            # upload quota: the benchmark measures the stack, not the account's ceilings
            ENGINE_BUDGETS='{"siliconflow": {}}',
            UPLOADS_PER_DAY="0",
            STORAGE_QUOTA_BYTES="0",
        )
        if args.workers > 1:
            # This machine's PostgreSQL takes 100 connections: the API's 50, 40 among the
            # workers, and the benchmark's own.
            env["DATABASE_POOL_SIZE"] = str(40 // args.workers)
        if src is not None:
            env["PYTHONPATH"] = f"{src}{os.pathsep}{REPO}"
        subprocess.run(
            [sys.executable, "-m", "rekindle", "migrate"],
            env={**os.environ, **env},
            cwd=data_dir,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        api = _rekindle(
            stack, env, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", timeout=300)
        per_worker = args.threads // args.workers
        workers = [
            _rekindle(stack, env, "worker", "--pool=threads", f"--concurrency={per_worker}")
            for _ in range(args.workers)
        ]
        wait_http(f"{base}/readyz", timeout=300)
        from rekindle.auth.tokens import TokenVerifier
        from rekindle.config import Settings

        verifier = TokenVerifier(Settings(_env_file=None, rekindle_data_dir=data_dir))  # type: ignore[call-arg]
        token = verifier.issue_local(f"bench-{uuid.uuid4().hex[:6]}", None, 7200)
        stats = {"api": ProcessStats(api.pid), "worker": _Together([w.pid for w in workers])}
        backing = _backing_stats(moto_pid, env["REDIS_URL"])
        database_url = env["DATABASE_URL"]
        limits = httpx.Limits(max_connections=args.clients + 4)
        with httpx.Client(base_url=base, timeout=120, limits=limits) as client:
            # warm-up (imports, pools, the first task), neither measured nor profiled
            fake.delay = 0.0
            _scenario(client, database_url, token, 20, args.clients, stats, backing)
            if args.profile:
                folder = args.profile / ("baseline" if src is not None else "current")
                folder.mkdir(parents=True, exist_ok=True)
                for name, pid in (("worker", workers[0].pid), ("api", api.pid)):
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            *(
                                "record",
                                "--pid",
                                str(pid),
                                "--rate",
                                "100",
                                "--gil",
                                "--nonblocking",
                            ),
                            *("--format", "raw", "-o", str(folder / f"{name}.txt")),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    stack.callback(_interrupt, spy)
            for scenario in args.scenarios.split(","):
                fake.delay = 2.0 if scenario == "delay2s" else 0.0
                fake.peak_in_flight = 0
                r = _scenario(
                    client,
                    database_url,
                    token,
                    args.count,
                    args.clients,
                    stats,
                    backing,
                    batch=args.batch,
                )
                r["provider_peak_in_flight"] = fake.peak_in_flight
                if scenario == "delay2s":
                    ideal = min(args.in_flight, args.count) / fake.delay
                    r["ideal_per_second"] = ideal
                    r["percent_of_ideal"] = round(100 * r["per_second"] / ideal, 1)
                results[scenario] = r
                print(
                    f"{label}: {scenario:8} {args.count} restorations in {r['wall_seconds']} s"
                    f" (accepted in {r['accept_seconds']} s) ="
                    f" {r['per_second']}/s"
                    + (f" ({r['percent_of_ideal']}% of ideal)" if "percent_of_ideal" in r else "")
                    + f", failed {r['failed']}, refused {r['refused']}, CPU ms/attempt:"
                    f" api {r['cpu_ms_per_attempt']['api']}, worker"
                    f" {r['cpu_ms_per_attempt']['worker']},"
                    f" PostgreSQL connections opened/attempt {r['pg_sessions_per_attempt']},"
                    f" machine CPU ms/attempt {r['machine_cpu_ms_per_attempt']}"
                    f" ({r['machine_cores_busy']} cores busy; of it "
                    + ", ".join(f"{k} {v}" for k, v in r["backing_cpu_ms_per_attempt"].items())
                    + ")",
                    flush=True,
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--threads", type=int, default=128, help="worker thread pool size")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=None,
        help="the provider's in-flight bound (SILICONFLOW_MAX_IN_FLIGHT, split among the"
        " workers); default: --threads",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; the threads (and the in-flight bound) are split among them",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--scenarios", default="instant,delay2s")
    parser.add_argument(
        "--batch",
        action="store_true",
        help="restore the N photos with ONE POST /photos/restore-batch (N <= 500)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy output folder")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="a `src` folder of another version (e.g. `git archive main src`), run first",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the variants this many times, in alternating order; figures are the means",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    args.in_flight = args.in_flight or args.threads

    from tests.engines.fakes import FakeSiliconFlow

    variants: dict[str, Path | None] = {"current": None}
    if args.baseline_src:
        variants = {"baseline": args.baseline_src.resolve(), **variants}
    rounds: list[dict[str, Any]] = []
    with FakeSiliconFlow() as fake:
        fake.payloads = _NoList()  # 500 base64 images otherwise
        fake.requests = _NoList()
        for number in range(args.rounds):
            # Odd rounds run the variants in the other order: the one run first was often ahead.
            order = list(variants) if number % 2 == 0 else list(reversed(variants))
            rounds.append({name: _variant(args, fake, variants[name]) for name in order})
    results: dict[str, Any] = {
        name: {
            scenario: _mean([r[name][scenario] for r in rounds])
            for scenario in args.scenarios.split(",")
        }
        for name in variants
    }
    if args.rounds > 1:
        results["rounds"] = rounds
    if args.baseline_src:
        for scenario in args.scenarios.split(","):
            old, new = results["baseline"][scenario], results["current"][scenario]
            print(
                f"{scenario}: CPU ms/attempt (api + worker) {old['cpu_ms_per_attempt_total']} ->"
                f" {new['cpu_ms_per_attempt_total']}"
                f" ({new['cpu_ms_per_attempt_total'] / old['cpu_ms_per_attempt_total']:.2f}x);"
                f" restorations/s {old['per_second']} -> {new['per_second']}"
                f" ({new['per_second'] / old['per_second']:.2f}x)"
            )
    results["machine"] = {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()}
    results["threads"] = args.threads
    results["in_flight"] = args.in_flight
    results["workers"] = args.workers
    results["mode"] = "restore-batch" if args.batch else "restore"
    results["clients"] = args.clients
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _backing_stats(moto_pid: int, redis_url: str) -> dict[str, Any]:
    """CPU counters of what serves the stack: PostgreSQL's processes, Redis, moto and this
    process (the provider stand-in runs in it)."""
    import redis

    redis_pid = int(redis.Redis.from_url(redis_url).info("server")["process_id"])
    return {
        "postgres": _Named("postgres"),
        "redis": ProcessStats(redis_pid),
        "moto": ProcessStats(moto_pid),
        "benchmark+provider": ProcessStats(os.getpid()),
    }


class _Named:
    """CPU seconds of every process named `comm` (PostgreSQL forks one per connection): each
    sample finds them again; a process first seen after the first sample counts from zero."""

    def __init__(self, comm: str) -> None:
        self.comm = comm
        self.first: dict[int, float] | None = None
        self.last: dict[int, float] = {}

    def sample(self) -> None:
        seen: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            try:
                if not entry.name.isdigit() or (entry / "comm").read_text().strip() != self.comm:
                    continue
            except OSError:  # the process ended meanwhile
                continue
            stat = ProcessStats(int(entry.name))
            stat.sample()
            seen[stat.pid] = stat.cpu_seconds
        self.last.update(seen)
        if self.first is None:
            self.first = dict(seen)

    @property
    def cpu_seconds(self) -> float:
        first = self.first or {}
        return sum(cpu - first.get(pid, 0.0) for pid, cpu in self.last.items())


class _Together:
    """`ProcessStats` of several processes (the workers), their CPU seconds summed."""

    def __init__(self, pids: list[int]) -> None:
        self.parts = [ProcessStats(pid) for pid in pids]

    def sample(self) -> None:
        for part in self.parts:
            part.sample()

    @property
    def cpu_seconds(self) -> float:
        return sum(part.cpu_seconds for part in self.parts)


def _mean(runs: list[Any]) -> Any:
    """Figures averaged over rounds: numbers, and dicts of them at any depth (a key missing from
    a round counts 0 there, as `lock_waits` omits statements it did not see); anything else as
    the first round has it."""
    first = runs[0]
    if len(runs) == 1:
        return first
    if isinstance(first, int | float) and not isinstance(first, bool):
        return round(sum(runs) / len(runs), 2)
    if isinstance(first, dict) and all(isinstance(r, dict) for r in runs):
        keys = dict.fromkeys(k for r in runs for k in r)
        return {k: _mean([r.get(k, 0) for r in runs]) for k in keys}
    return first


class _NoList(list):  # type: ignore[type-arg]
    """The fake keeps every request body; a benchmark does not need them."""

    def append(self, _: object) -> None:
        pass


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
