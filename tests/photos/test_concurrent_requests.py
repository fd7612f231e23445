"""Many simultaneous requests on one API process: none waits out a lock or fails.

On SQLite one transaction writes at a time; a request must never hold the write lock while waiting
for a thread (the server's thread pool is 40 threads), or the pool deadlocks until the busy timeout.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from tests.support.stack import Stack


def _jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    return out.getvalue()


def test_100_simultaneous_uploads_and_reads(stack: Stack) -> None:
    headers = {f"user-{n}": stack.auth(f"crowd-{stack.kind}-{n}") for n in range(4)}
    users = list(headers)

    def upload(n: int) -> int:
        user = users[n % len(users)]
        return stack.client.post(
            "/api/v1/photos", headers=headers[user], files={"file": (f"{n}.jpg", _jpeg(n))}
        ).status_code

    def read(n: int) -> int:
        return stack.client.get("/api/v1/photos", headers=headers[users[n % 4]]).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        uploads = pool.map(upload, range(70))
        reads = pool.map(read, range(30))
        statuses = list(uploads) + list(reads)
    elapsed = time.monotonic() - started
    assert statuses.count(201) == 70 and statuses.count(200) == 30, statuses
    assert elapsed < 25, f"took {elapsed:.1f} s: requests waited on locks"
