"""A store that refuses a write raises StorageError (which the API answers with 503
`storage_unavailable` and the worker records as a failed attempt), never a raw OSError or boto3
error that would surface as a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekindle.storage import StorageError
from rekindle.storage.local import LocalStore
from tests.support.services import moto_s3, s3_store


def test_local_store_refusing_a_write_raises_storage_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", secret=b"k" * 32, ttl_seconds=60)
    store.put("users/a/processed/photo.jpg", b"jpeg", "image/jpeg")
    source = tmp_path / "upload.jpg"
    source.write_bytes(b"jpeg")
    # A file stands where the key needs a folder: the file system refuses.
    with pytest.raises(StorageError):
        store.put("users/a/processed/photo.jpg/thumb.jpg", b"jpeg", "image/jpeg")
    with pytest.raises(StorageError):
        store.put_file("users/a/processed/photo.jpg/original.jpg", source, "image/jpeg")
    assert store.get("users/a/processed/photo.jpg") == b"jpeg"
    leftovers = [p.name for p in (tmp_path / "objects").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_s3_refusing_an_upload_raises_storage_error(tmp_path: Path) -> None:
    source = tmp_path / "upload.jpg"
    source.write_bytes(b"jpeg")
    with moto_s3() as endpoint:
        missing = s3_store(endpoint, "absent")
        # S3 answers NoSuchBucket: put_object raises ClientError, upload_file S3UploadFailedError.
        with pytest.raises(StorageError):
            missing.put("users/a/processed/x.jpg", b"jpeg", "image/jpeg")
        with pytest.raises(StorageError):
            missing.put_file("users/a/processed/x.jpg", source, "image/jpeg")
