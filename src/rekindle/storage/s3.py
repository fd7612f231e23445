"""S3 and S3-compatible object storage, with presigned or CloudFront download URLs.

Two clients share one boto3 session (its credential chain: keys given, environment, profile,
instance or task role). The object reads and writes of a restoration (`get`, `put`) go through
obstore, the Python binding of Apache Arrow's Rust `object_store`: it signs and sends outside the
GIL, where botocore holds it for 1.2-1.9 ms of CPU per call, and a worker runs up to 128 such
calls among its threads at once (docs/benchmarks.md, "Worker throughput", eighth pass). Everything
else stays on boto3: presigned URLs (obstore cannot sign a `response-content-disposition`), uploads
of files (multipart), listing, deletes and the bucket check.

obstore's Rust runtime is process-wide and does not survive a fork: a child of a process that has
called `get` or `put` hangs on its first call. Build the store before forking if need be, but call
it only after (Celery's prefork parent only checks the bucket, through boto3; tested in
tests/storage/test_payload_integrity.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import boto3
import obstore
import obstore.exceptions
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.signers import CloudFrontSigner

from rekindle.storage.base import ObjectNotFound, StorageError
from rekindle.storage.disposition import content_disposition

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Credential

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys per request (S3 API reference).
# obstore raises its own errors, and Python's for some S3 answers (a missing key is a
# FileNotFoundError).
_OBSTORE_ERRORS = (obstore.exceptions.BaseError, OSError)
# Both clients: tries per request in all, seconds to connect, seconds to wait for an answer.
TRIES, CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 3, 5, 60
CREDENTIALS_TTL = timedelta(minutes=5)
"""How long obstore keeps credentials read from the boto3 session before asking again (botocore
refreshes temporary ones itself, ahead of their expiry)."""


def cloudfront_rsa_signer(private_key_path: Path) -> Callable[[bytes], bytes]:
    """The `rsa_signer` botocore's `CloudFrontSigner` takes: RSA PKCS#1 v1.5 over SHA-1, the
    scheme CloudFront's signed URLs use (CloudFront Developer Guide, "Create a signed URL using a
    canned policy"; boto3's CloudFront example). The PEM key is read once, here. Raises OSError
    (unreadable file) or ValueError (not an unencrypted RSA private key)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{private_key_path} is not an RSA private key (CloudFront needs RSA)")

    def sign(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    return sign


class S3Store:
    """Objects in `bucket`. Download URLs are SigV4 presigned GET URLs that expire after
    `ttl_seconds`, signed for `public_endpoint_url` when given (the host browsers and providers
    reach), else for `endpoint_url`. With a CloudFront domain they are CloudFront URLs instead:
    signed with `cloudfront_signer` (canned policy, expiring after `ttl_seconds` like presigned
    URLs), or plain and never expiring when it is None (`CLOUDFRONT_PUBLIC=true`)."""

    reachable_by_providers = True

    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        ttl_seconds: int,
        cloudfront_domain: str | None,
        public_endpoint_url: str | None = None,
        cloudfront_signer: CloudFrontSigner | None = None,
        max_pool_connections: int = 64,
    ) -> None:
        self.bucket = bucket
        self._ttl = ttl_seconds
        self._cloudfront = cloudfront_domain
        self._cloudfront_signer = cloudfront_signer
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": TRIES, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            # At least one per thread that may call S3 at once: a connection returned to a full
            # urllib3 pool is closed, and the next call pays a new TCP connection (issue 16).
            max_pool_connections=max_pool_connections,
            # No flexible checksums (botocore >= 1.36 adds them by default): over HTTPS they turn a
            # PutObject into an aws-chunked body with a CRC32 trailer, which S3-compatible stores
            # have refused (storj/gateway-st#89, s3s-project/s3s#328). The body stays covered:
            # without a checksum botocore signs its SHA-256 (`X-Amz-Content-SHA256`), which S3
            # verifies (Config reference, `s3.payload_signing_enabled`). No CPU is saved
            # (benchmarks/s3_call_cost.py: 0.99x).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Presigning is local (no request is sent): a second client only to sign for the public host.
        self._signer = (
            session.client("s3", endpoint_url=public_endpoint_url, config=config)
            if public_endpoint_url and public_endpoint_url != endpoint_url
            else self.client
        )
        # The same endpoint, addressing, tries and timeouts as `config`: path-style on a custom
        # endpoint (MinIO, moto), virtual-hosted on AWS. No payload checksum is asked for:
        # object_store signs the body's SHA-256, as above.
        self._objects = obstore.store.S3Store(
            bucket,
            region=region,
            endpoint=endpoint_url,
            virtual_hosted_style_request=endpoint_url is None,
            credential_provider=_session_credentials(session),
            client_options=_client_options(endpoint_url),
            retry_config={
                "max_retries": TRIES - 1,
                "retry_timeout": timedelta(seconds=120),  # no new try after 2 minutes
            },
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            obstore.put(self._objects, key, data, attributes={"Content-Type": content_type})
        except _OBSTORE_ERRORS as exc:
            raise StorageError(f"S3 put {key}: {exc}") from exc

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        try:
            self.client.upload_file(
                str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except (
            BotoCoreError,
            ClientError,
            S3UploadFailedError,
        ) as exc:  # the last wraps S3's refusals
            raise StorageError(f"S3 upload {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return bytes(obstore.get(self._objects, key).bytes())
        except (FileNotFoundError, obstore.exceptions.NotFoundError) as exc:
            raise ObjectNotFound(key) from exc
        except _OBSTORE_ERRORS as exc:
            raise StorageError(f"S3 get {key}: {exc}") from exc

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        for start in range(0, len(batch), DELETE_BATCH):
            objects = [{"Key": key} for key in batch[start : start + DELETE_BATCH]]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise StorageError(f"S3 delete: {exc}") from exc
            if response.get("Errors"):
                raise StorageError(f"S3 delete failed for {response['Errors'][:3]}")

    def list_keys(self, prefix: str) -> list[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 list {prefix}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"S3 head {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 head {key}: {exc}") from exc

    def _presigned(self, key: str, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=self._ttl)

    def download_url(self, key: str, *, base_url: str, filename: str | None = None) -> str:
        if self._cloudfront:
            url = f"https://{self._cloudfront}/{quote(key)}"
            if self._cloudfront_signer is None:
                return url
            expires = datetime.now(UTC) + timedelta(seconds=self._ttl)
            return self._cloudfront_signer.generate_presigned_url(url, date_less_than=expires)
        return self._presigned(key, filename)

    def provider_url(self, key: str) -> str | None:
        return self._presigned(key)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} not reachable: {exc}") from exc


def _client_options(endpoint_url: str | None) -> ClientConfig:
    """obstore's HTTP client settings: plain HTTP only for an `http://` endpoint; the boto3
    client's timeouts; and the private CA that `AWS_CA_BUNDLE` names for boto3 (a self-hosted
    store behind its own CA), added to the system's roots. Raises OSError when that file cannot
    be read."""
    options: ClientConfig = {
        "allow_http": bool(endpoint_url and endpoint_url.startswith("http://")),
        "connect_timeout": timedelta(seconds=CONNECT_TIMEOUT_S),
        "timeout": timedelta(seconds=READ_TIMEOUT_S),
    }
    if bundle := os.environ.get("AWS_CA_BUNDLE"):
        options["root_certificate"] = Path(bundle).read_text()
    return options


def _session_credentials(session: boto3.Session) -> Callable[[], S3Credential]:
    """obstore's `credential_provider` from a boto3 session: its current (frozen) credentials,
    read when obstore first needs them and again after `CREDENTIALS_TTL`. Raises StorageError
    when the session finds none (obstore reports it on the call that needed them)."""

    def provide() -> S3Credential:
        credentials = session.get_credentials()
        if credentials is None:
            raise StorageError("no AWS credentials: set AWS_ACCESS_KEY_ID or an instance role")
        frozen = credentials.get_frozen_credentials()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + CREDENTIALS_TTL,
        }

    return provide
