"""The keep-alive race behind issue 16's "Server disconnected without sending a response".

The SiliconFlow stand-in (uvicorn) closes a connection idle for 5 s; httpx reuses one idle for
up to 5 s. N threads (default 128, as the worker) each send a request, wait 4.97-5 s and send
again on the same pool, while CPU-bound threads hold the GIL (as the worker's other threads do),
which widens the instant between the pool's check of a connection and the request's write.

    uv run python -m benchmarks.keepalive_race [--threads 128] [--rounds 8] [--burners 8]

Prints the failures with a bare `client.get` ("plain") and with `engines.http.request`, which
sends a request once more when a reused connection closed before any answer ("resend"), and how
many requests it sent again.
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time

import httpx

from rekindle.engines import http


def run(mode: str, threads: int, rounds: int, burners: int) -> dict[str, object]:
    from tests.engines.fakes import FakeSiliconFlow

    failures: list[str] = []
    resent: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: resent.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger(http.__name__).addHandler(handler)
    logging.getLogger(http.__name__).setLevel(logging.INFO)
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(i * i for i in range(2000))

    with FakeSiliconFlow() as fake:
        client = http.make_client(timeout=30, max_connections=threads)
        url = f"{fake.url}/cdn/x.png"

        def work() -> None:
            for _ in range(rounds):
                try:
                    if mode == "plain":
                        client.get(url)
                    else:
                        http.request(client, "GET", url)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                time.sleep(random.uniform(4.97, 5.0))

        hot = [threading.Thread(target=burn) for _ in range(burners)]
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for thread in hot + workers:
            thread.start()
        for thread in workers:
            thread.join()
        stop.set()
        client.close()
    logging.getLogger(http.__name__).removeHandler(handler)
    return {
        "mode": mode,
        "requests": threads * rounds,
        "failed": len(failures),
        "errors": sorted(set(failures)),
        "sent_again": len(resent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--burners", type=int, default=8)
    args = parser.parse_args()
    for mode in ("plain", "resend"):
        print(run(mode, args.threads, args.rounds, args.burners), flush=True)


if __name__ == "__main__":
    main()
