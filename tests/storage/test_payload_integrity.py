"""What the S3 store sends with an object: its SHA-256 in the signature, no flexible checksums.

botocore >= 1.36 adds CRC32 checksums to every PutObject by default; over HTTPS that makes the body
aws-chunked with a checksum trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), which S3-compatible
stores have refused. `S3Store` asks for checksums only where an operation requires one, so the
body's SHA-256 is signed instead (S3 verifies it).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from tests.support.services import s3_store

BODY = b"\xff\xd8 not really a jpeg, but bytes" * 40


def _capture(client: Any, operation: str, *, answer: bool = False) -> list[dict[str, str]]:
    """Record the headers of each `operation` request the client sends (botocore's
    `before-send` event, just before the wire). With `answer`, reply 200 instead of sending."""
    seen: list[dict[str, str]] = []

    def hook(request: Any, **_: object) -> AWSResponse | None:
        seen.append({k.lower(): _text(v) for k, v in request.headers.items()})
        return AWSResponse(request.url, 200, {}, _EmptyBody()) if answer else None

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return seen


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _EmptyBody:
    def stream(self, **_: object) -> Any:
        return iter([b""])


def _checksum_headers(headers: dict[str, str]) -> list[str]:
    return [
        name
        for name in headers
        if name.startswith(("x-amz-checksum", "x-amz-sdk-checksum", "x-amz-trailer"))
    ]


def test_a_put_signs_the_body_and_sends_no_checksum(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, f"integrity-{uuid.uuid4().hex[:8]}")
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=store.bucket)
    puts = _capture(store.client, "PutObject")
    gets = _capture(store.client, "GetObject")

    store.put("users/a/result.jpg", BODY, "image/jpeg")
    assert store.get("users/a/result.jpg") == BODY

    (put,) = puts
    assert put["x-amz-content-sha256"] == hashlib.sha256(BODY).hexdigest()
    assert _checksum_headers(put) == []
    (get,) = gets
    assert "x-amz-checksum-mode" not in get  # no checksum asked for, none validated


def test_over_https_the_body_is_not_sent_aws_chunked_with_a_trailer() -> None:
    # No TLS S3 server here: the request is read as botocore would send it, then answered.
    store = s3_store("https://s3.example.com", "integrity-https")
    puts = _capture(store.client, "PutObject", answer=True)

    store.put("users/a/result.jpg", BODY, "image/jpeg")

    (put,) = puts
    assert put["x-amz-content-sha256"] == hashlib.sha256(BODY).hexdigest()
    assert "content-encoding" not in put  # not aws-chunked
    assert _checksum_headers(put) == []
