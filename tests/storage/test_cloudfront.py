"""CloudFront download URLs: signed with the distribution's key pair (botocore's CloudFrontSigner,
canned policy) and expiring like presigned URLs; unsigned only with CLOUDFRONT_PUBLIC=true; a
domain without either refuses to start."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pydantic import ValidationError

from rekindle.config import Settings
from rekindle.storage.factory import make_store

DOMAIN = "d111111abcdef8.cloudfront.net"
KEY = "users/alice/processed/3fa85f64-5717-4562-b3fc-2c963f66afa6.jpg"


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        rekindle_data_dir=str(tmp_path),
        s3_bucket="photos",
        s3_endpoint_url="http://127.0.0.1:9",  # never contacted: URLs are made locally
        aws_access_key_id="test",
        aws_secret_access_key="test",
        cloudfront_domain=DOMAIN,
        signed_url_ttl_seconds=900,
        **values,
    )


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, rsa.RSAPublicKey]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("cf") / "cloudfront.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path, private.public_key()


def _cloudfront_b64decode(text: str) -> bytes:
    # CloudFront's URL-safe base64: '+' -> '-', '=' -> '_', '/' -> '~' (Developer Guide).
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_signed_url_verifies_with_the_public_key_and_expires_like_presigned(
    tmp_path: Path, key_pair: tuple[Path, rsa.RSAPublicKey]
) -> None:
    pem, public = key_pair
    store = make_store(
        _settings(tmp_path, cloudfront_key_id="K2JCJMDEHXQW5F", cloudfront_private_key_path=pem)
    )
    before = int(time.time())
    url = store.download_url(KEY, base_url="http://api.example")
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", DOMAIN, "/" + KEY)
    query = {name: values[0] for name, values in parse_qs(parsed.query).items()}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    expires = int(query["Expires"])
    assert before + 900 <= expires <= int(time.time()) + 900 + 1
    # The canned policy CloudFront rebuilds from the URL and Expires, byte for byte.
    resource = f"https://{DOMAIN}/{KEY}"
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = _cloudfront_b64decode(query["Signature"])
    public.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(InvalidSignature):  # another object, or a stretched expiry, fails
        tampered = policy.replace(str(expires).encode(), str(expires + 3600).encode())
        public.verify(signature, tampered, padding.PKCS1v15(), hashes.SHA1())


def test_unsigned_only_when_declared_public(tmp_path: Path) -> None:
    store = make_store(_settings(tmp_path, cloudfront_public=True))
    assert store.download_url(KEY, base_url="http://api.example") == f"https://{DOMAIN}/{KEY}"


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"cloudfront_key_id": "K2JCJMDEHXQW5F"},
        {"cloudfront_private_key_path": "/nonexistent.pem"},
    ],
)
def test_a_domain_without_a_key_pair_or_public_refuses_to_start(
    tmp_path: Path, values: dict[str, object]
) -> None:
    with pytest.raises(ValidationError, match="CLOUDFRONT"):
        _settings(tmp_path, **values)


def test_an_unusable_private_key_refuses_to_start(tmp_path: Path) -> None:
    not_rsa = tmp_path / "ec.pem"
    not_rsa.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for path, error in ((not_rsa, ValueError), (tmp_path / "missing.pem", OSError)):
        settings = _settings(tmp_path, cloudfront_key_id="K1", cloudfront_private_key_path=path)
        with pytest.raises(error):
            make_store(settings)
