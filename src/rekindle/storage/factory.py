"""Pick the object store from settings: S3 when `S3_BUCKET` is set, else the local folder."""

from __future__ import annotations

from botocore.signers import CloudFrontSigner

from rekindle.config import Settings
from rekindle.secrets import local_secret
from rekindle.storage.base import ObjectStore
from rekindle.storage.local import LocalStore
from rekindle.storage.s3 import S3Store, cloudfront_rsa_signer


def make_store(settings: Settings) -> ObjectStore:
    """The object store `settings` name. Raises OSError/ValueError when a CloudFront private key
    is configured but cannot be read (start-up fails rather than serve unsigned URLs)."""
    if settings.s3_bucket:
        signer = None
        if settings.cloudfront_domain and settings.cloudfront_key_id:
            assert settings.cloudfront_private_key_path is not None  # Settings checks the pair
            signer = CloudFrontSigner(
                settings.cloudfront_key_id,
                cloudfront_rsa_signer(settings.cloudfront_private_key_path),
            )
        return S3Store(
            settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            ttl_seconds=settings.signed_url_ttl_seconds,
            cloudfront_domain=settings.cloudfront_domain,
            public_endpoint_url=settings.s3_public_endpoint_url,
            cloudfront_signer=signer,
            # a worker runs up to WORKER_CONCURRENCY tasks at once (the API: 40 threads)
            max_pool_connections=max(64, settings.worker_concurrency + 8),
        )
    return LocalStore(
        settings.data_dir / "objects",
        secret=local_secret(settings.data_dir, "storage-signing"),
        ttl_seconds=settings.signed_url_ttl_seconds,
    )
