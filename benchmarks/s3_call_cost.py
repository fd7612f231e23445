"""CPU milliseconds per S3 call of the worker's hot path (issue 16): `S3Store`'s client against one
with botocore's default flexible checksums (`when_supported`, what the store used before), side
by side on one `moto_server`.

Each round puts and gets the same object (a 30 kB body, the size of a restored JPEG's thumbnail
and result) `--calls` times with each client, in alternating order; the figure is this process's
CPU time (user + sys) per call, so moto's share is not counted. Prints the means over rounds and
the ratio.

    uv run python -m benchmarks.s3_call_cost [--calls 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.load import _stop, free_port, wait_http
from tests.support.services import s3_store

BUCKET = "call-cost"
BODY = os.urandom(30_000)


def _cpu_ms_per_call(client: Any, calls: int) -> tuple[float, float]:
    """(put, get) CPU ms per call of `client` on `BUCKET`."""
    started = time.process_time()
    for _ in range(calls):
        client.put_object(Bucket=BUCKET, Key="k", Body=BODY, ContentType="image/jpeg")
    put_done = time.process_time()
    for _ in range(calls):
        client.get_object(Bucket=BUCKET, Key="k")["Body"].read()
    get_done = time.process_time()
    return 1000 * (put_done - started) / calls, 1000 * (get_done - put_done) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with ExitStack() as stack:
        port = free_port()
        moto = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(_stop, moto)
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(f"{endpoint}/")
        store = s3_store(endpoint, BUCKET)
        store.client.create_bucket(Bucket=BUCKET)
        clients = {
            "S3Store (checksums when required)": store.client,
            # the store's own config, only the two checksum settings back at botocore's default
            "botocore default (when supported)": boto3.client(
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
            ),
        }
        for client in clients.values():  # warm: endpoint rules, connections
            _cpu_ms_per_call(client, 10)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for number in range(args.rounds):
            order = list(clients) if number % 2 == 0 else list(reversed(clients))
            for name in order:
                runs[name].append(_cpu_ms_per_call(clients[name], args.calls))
    means = {
        name: (statistics.mean(p for p, _ in r), statistics.mean(g for _, g in r))
        for name, r in runs.items()
    }
    for name, (put, get) in means.items():
        print(f"{name:36} put {put:.3f} ms  get {get:.3f} ms  CPU per call")
    (new_put, new_get), (old_put, old_get) = means.values()
    print(
        f"ratio (S3Store / default): put {new_put / old_put:.2f}x, get {new_get / old_get:.2f}x,"
        f" put + get {(new_put + new_get) / (old_put + old_get):.2f}x"
        f" ({args.rounds} rounds of {args.calls} calls, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
