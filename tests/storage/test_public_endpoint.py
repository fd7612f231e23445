"""Presigned URLs for the host browsers reach (`S3_PUBLIC_ENDPOINT_URL`), not the internal one."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import boto3
import httpx

from rekindle.storage.s3 import S3Store
from tests.support.services import s3_store


def _store(endpoint: str, public: str | None) -> S3Store:
    return s3_store(endpoint, f"public-{uuid.uuid4().hex[:8]}", public)


def test_download_urls_are_signed_for_the_public_endpoint(s3_endpoint: str) -> None:
    internal = urlparse(s3_endpoint)
    assert internal.hostname == "127.0.0.1"
    public = f"http://localhost:{internal.port}"  # the same server under another name
    store = _store(s3_endpoint, public)
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=store.bucket)
    store.put("users/a/x.jpg", b"pixels", "image/jpeg")

    url = store.download_url("users/a/x.jpg", base_url="http://api.example", filename="x.jpg")
    provider_url = store.provider_url("users/a/x.jpg")
    assert provider_url is not None
    for signed in (url, provider_url):
        assert urlparse(signed).netloc == f"localhost:{internal.port}"
        fetched = httpx.get(signed)
        assert fetched.status_code == 200 and fetched.content == b"pixels"
    assert (
        store.get("users/a/x.jpg") == b"pixels"
    )  # the store itself still talks to the internal one

    plain = _store(s3_endpoint, None)
    assert urlparse(plain.provider_url("k") or "").netloc == internal.netloc
