"""Pick the object store from settings: S3 when `S3_BUCKET` is set, else the local folder."""

from __future__ import annotations

from rekindle.config import Settings
from rekindle.secrets import local_secret
from rekindle.storage.base import ObjectStore
from rekindle.storage.local import LocalStore
from rekindle.storage.s3 import S3Store


def make_store(settings: Settings) -> ObjectStore:
    if settings.s3_bucket:
        return S3Store(
            settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            ttl_seconds=settings.signed_url_ttl_seconds,
            cloudfront_domain=settings.cloudfront_domain,
            public_endpoint_url=settings.s3_public_endpoint_url,
        )
    return LocalStore(
        settings.data_dir / "objects",
        secret=local_secret(settings.data_dir, "storage-signing"),
        ttl_seconds=settings.signed_url_ttl_seconds,
        public_base_url=settings.public_base_url,
    )
