"""The cost of an S3 call on the worker's hot path (issue 16): `S3Store.put`/`get` (obstore)
against boto3 with the store's config (checksums only when required) and boto3 with botocore's
default flexible checksums (`when_supported`, what the store used before), side by side on one
`moto_server`.

Each round puts and gets the same object (a 30 kB body, the size of a restored JPEG's thumbnail
and result) `--calls` times with each client, in alternating order. Two figures per call:
- CPU ms: this process's CPU time (user + sys, every thread, obstore's Rust threads included) per
  call; moto's share is not counted;
- contended wall ms: the wall time per call while another thread of this process spins in pure
  Python, as the worker's other threads do: a client that holds the GIL for its work waits for it
  at every step.

    uv run python -m benchmarks.s3_call_cost [--calls 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.load import start_moto
from tests.support.services import s3_store

BUCKET = "call-cost"
BODY = os.urandom(30_000)

Calls = tuple[Callable[[], object], Callable[[], object]]  # (put, get)


def _cpu_ms_per_call(calls: Calls, count: int) -> tuple[float, float]:
    """(put, get) CPU ms per call."""
    put, get = calls
    started = time.process_time()
    for _ in range(count):
        put()
    put_done = time.process_time()
    for _ in range(count):
        get()
    return 1000 * (put_done - started) / count, 1000 * (time.process_time() - put_done) / count


def _contended_ms_per_call(calls: Calls, count: int) -> float:
    """Wall ms per put + get while another thread spins in Python (holding the GIL)."""
    put, get = calls
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        started = time.perf_counter()
        for _ in range(count):
            put()
            get()
        return 1000 * (time.perf_counter() - started) / count
    finally:
        stop.set()
        spinner.join()


def _boto3_calls(client: Any) -> Calls:
    def put() -> object:
        return client.put_object(Bucket=BUCKET, Key="k", Body=BODY, ContentType="image/jpeg")

    def get() -> object:
        return client.get_object(Bucket=BUCKET, Key="k")["Body"].read()

    return put, get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with ExitStack() as stack:
        endpoint, _ = start_moto(stack)
        store = s3_store(endpoint, BUCKET)
        store.client.create_bucket(Bucket=BUCKET)
        # the store's own boto3 config, only the two checksum settings back at botocore's default
        default = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=store.client.meta.config.merge(
                Config(
                    request_checksum_calculation="when_supported",
                    response_checksum_validation="when_supported",
                )
            ),
        )
        clients: dict[str, Calls] = {
            "S3Store.put/get (obstore)": (
                lambda: store.put("k", BODY, "image/jpeg"),
                lambda: store.get("k"),
            ),
            "boto3, checksums when required": _boto3_calls(store.client),
            "boto3, botocore default checksums": _boto3_calls(default),
        }
        for calls in clients.values():  # warm: endpoint rules, connections, the Rust runtime
            _cpu_ms_per_call(calls, 10)
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        contended: dict[str, list[float]] = {name: [] for name in clients}
        for number in range(args.rounds):
            order = list(clients) if number % 2 == 0 else list(reversed(clients))
            for name in order:
                cpu[name].append(_cpu_ms_per_call(clients[name], args.calls))
                contended[name].append(_contended_ms_per_call(clients[name], args.calls // 3))
    print(f"{'client':36} {'put CPU':>9} {'get CPU':>9} {'put+get wall, contended':>24}")
    for name in clients:
        put = statistics.mean(p for p, _ in cpu[name])
        get = statistics.mean(g for _, g in cpu[name])
        wall = statistics.mean(contended[name])
        print(f"{name:36} {put:7.3f} ms {get:7.3f} ms {wall:21.2f} ms")
    print(
        f"({args.rounds} rounds of {args.calls} calls, {args.calls // 3} contended;"
        f" load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
