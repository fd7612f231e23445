"""A store that refuses a write raises StorageError (which the API answers with 503
`storage_unavailable` and the worker records as a failed attempt), never a raw OSError or boto3
error that would surface as a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekindle.storage import StorageError
from rekindle.storage.local import LocalStore
from rekindle.storage.s3 import S3Store
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


def test_s3_without_credentials_raises_storage_error_naming_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No keys given and none in the environment, a profile or an instance role: a put or a get
    (obstore, credentials from the boto3 session) is a StorageError that says what is missing."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with moto_s3() as endpoint:
        store = S3Store(
            "no-credentials",
            region="us-east-1",
            endpoint_url=endpoint,
            access_key_id=None,
            secret_access_key=None,
            ttl_seconds=60,
            cloudfront_domain=None,
        )
        with pytest.raises(StorageError, match="no AWS credentials"):
            store.put("users/a/processed/x.jpg", b"jpeg", "image/jpeg")
        with pytest.raises(StorageError, match="no AWS credentials"):
            store.get("users/a/processed/x.jpg")
