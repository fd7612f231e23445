"""What the S3 store sends with an object: its SHA-256 in the signature, no flexible checksums.

`put` and `get` go through obstore; `put_file` (uploads) through boto3. botocore >= 1.36 adds
CRC32 checksums to every PutObject by default, and over HTTPS makes the body aws-chunked with a
checksum trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), which S3-compatible stores have refused.
Both clients must send the plain body with its SHA-256 signed instead (S3 verifies it).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from rekindle.storage.base import ObjectNotFound
from tests.support.services import s3_store

BODY = b"\xff\xd8 not really a jpeg, but bytes" * 40


@contextmanager
def recording_s3() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A bucket endpoint on 127.0.0.1 that keeps what it is sent: PUT stores the body, GET
    answers it (404 when absent), as S3's REST API does. Yields (endpoint, requests), each
    request {method, path, headers (lower-cased), body}."""
    objects: dict[str, bytes] = {}
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._record(body)
            objects[self.path] = body
            self._answer(200, b"")

        def do_GET(self) -> None:
            self._record(b"")
            if self.path not in objects:
                self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            self._answer(200, objects[self.path])

        def _record(self, body: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.append(
                {"method": self.command, "path": self.path, "headers": headers, "body": body}
            )

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
            self.send_header("Last-Modified", formatdate(usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _checksum_headers(headers: dict[str, str]) -> list[str]:
    return [
        name
        for name in headers
        if name.startswith(("x-amz-checksum", "x-amz-sdk-checksum", "x-amz-trailer"))
    ]


def test_put_and_get_sign_the_body_and_send_no_checksum() -> None:
    with recording_s3() as (endpoint, seen):
        store = s3_store(endpoint, "integrity")
        store.put("users/a/result.jpg", BODY, "image/jpeg")
        assert store.get("users/a/result.jpg") == BODY
        with pytest.raises(ObjectNotFound):
            store.get("users/a/absent.jpg")

    put, get, _ = seen
    assert (put["method"], put["path"]) == ("PUT", "/integrity/users/a/result.jpg")  # path-style
    assert put["body"] == BODY  # plain, not aws-chunked
    assert put["headers"]["x-amz-content-sha256"] == hashlib.sha256(BODY).hexdigest()
    assert put["headers"]["content-type"] == "image/jpeg"
    assert "aws4-hmac-sha256" in put["headers"]["authorization"].lower()
    assert _checksum_headers(put["headers"]) == []
    assert get["method"] == "GET"
    assert "x-amz-checksum-mode" not in get["headers"]  # no checksum asked for, none validated


def _capture(client: Any, operation: str) -> list[dict[str, str]]:
    """Record the headers of each `operation` request botocore sends (its `before-send` event,
    just before the wire) and answer 200 instead of sending."""
    seen: list[dict[str, str]] = []

    def hook(request: Any, **_: object) -> AWSResponse:
        seen.append({k.lower(): _text(v) for k, v in request.headers.items()})
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return seen


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _EmptyBody:
    def stream(self, **_: object) -> Any:
        return iter([b""])


def test_an_upload_over_https_is_not_sent_aws_chunked_with_a_trailer(tmp_path: Path) -> None:
    # No TLS S3 server here: the request is read as botocore would send it, then answered.
    store = s3_store("https://s3.example.com", "integrity-https")
    puts = _capture(store.client, "PutObject")
    upload = tmp_path / "upload.jpg"
    upload.write_bytes(BODY)

    store.put_file("users/a/original.jpg", upload, "image/jpeg")

    (put,) = puts
    assert put["x-amz-content-sha256"] == hashlib.sha256(BODY).hexdigest()
    assert "content-encoding" not in put  # not aws-chunked
    assert _checksum_headers(put) == []


def test_a_round_trip_through_moto(s3_endpoint: str) -> None:
    """Both clients on one bucket: obstore reads what boto3 uploaded and the other way round."""
    store = s3_store(s3_endpoint, f"integrity-{uuid.uuid4().hex[:8]}")
    store.client.create_bucket(Bucket=store.bucket)
    store.put("users/a/result.jpg", BODY, "image/jpeg")
    head = store.client.head_object(Bucket=store.bucket, Key="users/a/result.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == len(BODY)
    store.client.put_object(Bucket=store.bucket, Key="users/a/other.jpg", Body=BODY[::-1])
    assert store.get("users/a/other.jpg") == BODY[::-1]
    with pytest.raises(ObjectNotFound):
        store.get("users/a/absent.jpg")


# Run in a fresh interpreter: obstore's runtime is process-wide, and this test process has
# already started it in the tests above.
_PREFORK_PARENT = """
import multiprocessing, sys
from tests.support.services import s3_store

def child(store, answers):
    store.put("users/a/child.jpg", b"from the child", "image/jpeg")
    answers.put(store.get("users/a/child.jpg"))

if __name__ == "__main__":
    store = s3_store(sys.argv[1], sys.argv[2])
    store.check()
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    process = context.Process(target=child, args=(store, answers))
    process.start()
    process.join(30)
    if process.is_alive():
        process.kill()
        sys.exit("the forked child hung on its first S3 call")
    print(answers.get(timeout=5).decode())
"""


def test_a_forked_child_uses_the_store_its_parent_built(s3_endpoint: str) -> None:
    """Celery's prefork pool: the parent builds the runtime's store and checks the bucket (boto3),
    then forks. obstore's Rust runtime must not have started in the parent (a child inheriting it
    hangs on its first call), so building the store and `check` must not start it."""
    store = s3_store(s3_endpoint, f"integrity-{uuid.uuid4().hex[:8]}")
    store.client.create_bucket(Bucket=store.bucket)
    parent = subprocess.run(
        [sys.executable, "-c", _PREFORK_PARENT, s3_endpoint, store.bucket],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert parent.returncode == 0, parent.stderr[-2000:]
    assert parent.stdout.strip() == "from the child"
