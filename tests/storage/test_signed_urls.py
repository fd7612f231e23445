"""The local store's expiring HMAC-signed URLs, and the S3 store's presigned URLs."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from rekindle.storage.local import LocalStore
from tests.support.services import shared_photo
from tests.support.stack import Stack


def test_local_signature_checks(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, secret=b"k" * 32, ttl_seconds=60)
    future = int(time.time()) + 60
    sig = store.sign("users/a/x.jpg", future)
    assert store.verify_signature("users/a/x.jpg", future, sig)
    assert not store.verify_signature("users/a/y.jpg", future, sig)  # another key
    assert not store.verify_signature("users/a/x.jpg", future + 1, sig)  # stretched expiry
    assert not store.verify_signature("users/a/x.jpg", future, sig, "other.jpg")  # filename
    past = int(time.time()) - 1
    assert not store.verify_signature("users/a/x.jpg", past, store.sign("users/a/x.jpg", past))
    other = LocalStore(tmp_path, secret=b"j" * 32, ttl_seconds=60)
    assert not other.verify_signature("users/a/x.jpg", future, sig)
    assert not store.verify_signature("users/a/x.jpg", future, "é" * len(sig))  # not a TypeError


def test_local_store_refuses_keys_outside_its_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", secret=b"k" * 32, ttl_seconds=60)
    from rekindle.storage import StorageError

    with pytest.raises(StorageError):
        store.put("../escape.txt", b"x", "text/plain")


def test_served_urls_reject_tampering_and_expiry(stack: Stack) -> None:
    if stack.kind != "embedded":
        pytest.skip("S3 presigned URLs are signed and checked by S3 itself")
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user="signer")
    url = photo["original_url"]
    assert httpx.get(url).status_code == 200
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    base = f"{parsed.scheme}://{parsed.netloc}"

    tampered_sig = {**query, "sig": ("0" if query["sig"][0] != "0" else "1") + query["sig"][1:]}
    other_key = parsed.path.replace("processed", "thumbnails")
    longer = {**query, "expires": str(int(query["expires"]) + 3600)}
    store = stack.runtime.store
    assert isinstance(store, LocalStore)
    key = parsed.path.removeprefix("/api/v1/files/")
    past = int(time.time()) - 5
    expired = {**query, "expires": str(past), "sig": store.sign(key, past, query["filename"])}
    for path, params in [
        (parsed.path, tampered_sig),
        (other_key, query),
        (parsed.path, longer),
        (parsed.path, expired),
    ]:
        response = httpx.get(f"{base}{path}?{urlencode(params)}")
        assert response.status_code == 403, (path, params)
        assert response.json()["error"]["code"] == "invalid_signature"


def test_s3_presigned_urls_expire(stack: Stack) -> None:
    if stack.kind != "production":
        pytest.skip("only the S3 store issues presigned URLs")
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user="presigner")
    query = parse_qs(urlparse(photo["original_url"]).query)
    assert query["X-Amz-Expires"] == [str(stack.settings.signed_url_ttl_seconds)]
    assert "X-Amz-Signature" in query
    assert httpx.get(photo["original_url"]).status_code == 200
