"""Bearer tokens: JWKS (RS256/ES256 as Auth0 and Supabase publish), HS256 secret, local issuer.
Every bad token is refused with 401 and a stable code."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rekindle.auth.tokens import TokenVerifier
from rekindle.config import Settings
from rekindle.errors import Unauthorized

ISSUER = "https://tenant.example.auth0.com/"
AUDIENCE = "https://api.rekindle.example"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "other_rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="module")
def jwks_url(keys: dict[str, Any]) -> Iterator[str]:
    """A local server publishing a JWKS document (RFC 7517) with one RSA and one EC key."""
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(keys["rsa"].public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(keys["ec"].public_key()))
    document = json.dumps(
        {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
            ]
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "auth0|alice",
        "email": "alice@example.com",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _jwks_verifier(jwks_url: str, tmp_path: Path) -> TokenVerifier:
    return TokenVerifier(
        Settings(
            _env_file=None,
            rekindle_data_dir=tmp_path,
            auth_jwks_url=jwks_url,  # type: ignore[call-arg]
            auth_issuer=ISSUER,
            auth_audience=AUDIENCE,
        )
    )


def test_jwks_accepts_rs256_and_es256(keys: dict[str, Any], jwks_url: str, tmp_path: Path) -> None:
    verifier = _jwks_verifier(jwks_url, tmp_path)
    rs = jwt.encode(_claims(), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(
        _claims(sub="auth0|bob"), keys["ec"], algorithm="ES256", headers={"kid": "ec-1"}
    )
    assert verifier.verify(rs).subject == "auth0|alice"
    assert verifier.verify(rs).email == "alice@example.com"
    assert verifier.verify(es).subject == "auth0|bob"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "token_expired"),
        ("wrong audience", "invalid_token"),
        ("wrong issuer", "invalid_token"),
        ("bad signature", "invalid_token"),
        ("alg none", "invalid_token"),
        ("hs256 with the public key", "invalid_token"),
        ("no subject", "invalid_token"),
        ("es256 naming the rsa key", "invalid_token"),
        ("garbage", "invalid_token"),
    ],
)
def test_jwks_rejects(
    case: str, code: str, keys: dict[str, Any], jwks_url: str, tmp_path: Path
) -> None:
    verifier = _jwks_verifier(jwks_url, tmp_path)
    rsa_key = keys["rsa"]
    header = {"kid": "rsa-1"}
    token = {
        "expired": lambda: jwt.encode(
            _claims(exp=int(time.time()) - 120), rsa_key, "RS256", header
        ),
        "wrong audience": lambda: jwt.encode(_claims(aud="someone-else"), rsa_key, "RS256", header),
        "wrong issuer": lambda: jwt.encode(
            _claims(iss="https://evil.example/"), rsa_key, "RS256", header
        ),
        # Signed by a key the JWKS does not hold, but claiming the JWKS key's id.
        "bad signature": lambda: jwt.encode(_claims(), keys["other_rsa"], "RS256", header),
        "alg none": lambda: jwt.encode(_claims(), None, algorithm="none", headers=header),
        # The classic confusion attack: HMAC keyed with the public key's PEM.
        "hs256 with the public key": lambda: _hs256_with_public_key(rsa_key),
        "no subject": lambda: jwt.encode(_claims(sub=None), rsa_key, "RS256", header),
        # Key ids are public: an ES256 token naming the RSA key once made PyJWT raise TypeError.
        "es256 naming the rsa key": lambda: jwt.encode(_claims(), keys["ec"], "ES256", header),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(token)
    assert caught.value.code == code
    assert caught.value.status == 401


def _hs256_with_public_key(private_key: rsa.RSAPrivateKey) -> str:
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64(json.dumps(_claims()).encode())
    signature = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def test_hs256_shared_secret_mode(tmp_path: Path) -> None:
    """Supabase signs with a project JWT secret (HS256) and audience `authenticated`."""
    settings = Settings(
        _env_file=None,
        rekindle_data_dir=tmp_path,
        auth_hs256_secret="s3cret" * 6,  # type: ignore[call-arg]
        auth_audience="authenticated",
    )
    verifier = TokenVerifier(settings)
    good = jwt.encode(_claims(aud="authenticated", iss=None), "s3cret" * 6, algorithm="HS256")
    assert verifier.verify(good).subject == "auth0|alice"
    forged = jwt.encode(_claims(aud="authenticated", iss=None), "wrong" * 8, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


def test_local_issuer_tokens_round_trip_and_are_scoped(tmp_path: Path) -> None:
    verifier = TokenVerifier(Settings(_env_file=None, rekindle_data_dir=tmp_path))  # type: ignore[call-arg]
    token = verifier.issue_local("local-user", "me@example.com", ttl_seconds=60)
    assert verifier.verify(token).subject == "local-user"
    # Another data folder has another secret: its tokens are not accepted here.
    other = TokenVerifier(Settings(_env_file=None, rekindle_data_dir=tmp_path / "other"))  # type: ignore[call-arg]
    with pytest.raises(Unauthorized):
        verifier.verify(other.issue_local("local-user", None, ttl_seconds=60))
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(verifier.issue_local("local-user", None, ttl_seconds=-120))
    assert caught.value.code == "token_expired"


@pytest.mark.parametrize(
    "provider",
    [
        {"auth_jwks_url": "https://tenant.example/.well-known/jwks.json", "auth_issuer": ISSUER},
        {"auth0_domain": "tenant.example"},
        {"auth_hs256_secret": "s3cret" * 6},
        {
            "auth_jwks_url": "https://tenant.example/.well-known/jwks.json",
            "auth_audience": AUDIENCE,
        },
    ],
    ids=["jwks without audience", "auth0 without audience", "hs256 without audience", "no issuer"],
)
def test_an_identity_provider_without_audience_or_issuer_is_refused(
    provider: dict[str, str], tmp_path: Path
) -> None:
    """Without them any token the tenant issues (an ID token, another API's token) would do."""
    with pytest.raises(ValueError, match=r"AUTH_AUDIENCE|AUTH_ISSUER"):
        Settings(_env_file=None, rekindle_data_dir=tmp_path, **provider)  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize(
    "domain",
    [
        "tenant.example.auth0.com",
        "https://tenant.example.auth0.com",
        "https://tenant.example.auth0.com/",
        "tenant.example.auth0.com/",
        " HTTPS://Tenant.Example.Auth0.com// ",
    ],
)
def test_auth0_domain_is_normalised(
    domain: str, keys: dict[str, Any], jwks_url: str, tmp_path: Path
) -> None:
    """AUTH0_DOMAIN as people paste it (with `https://`, a trailing slash) still gives Auth0's
    issuer `https://TENANT/` and its JWKS URL (issue 13)."""
    derived = TokenVerifier(
        Settings(
            _env_file=None,
            rekindle_data_dir=tmp_path,
            auth0_domain=domain,  # type: ignore[call-arg]
            auth_audience=AUDIENCE,
        )
    )
    assert derived.issuer == ISSUER
    assert derived.jwks_url == "https://tenant.example.auth0.com/.well-known/jwks.json"
    # The same domain with the key set served locally: a token Auth0 would issue verifies.
    verifier = TokenVerifier(
        Settings(
            _env_file=None,
            rekindle_data_dir=tmp_path,
            auth0_domain=domain,  # type: ignore[call-arg]
            auth_jwks_url=jwks_url,
            auth_audience=AUDIENCE,
        )
    )
    token = jwt.encode(_claims(), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    assert verifier.verify(token).subject == "auth0|alice"


def test_jwks_and_hs256_secret_together_accept_both(
    keys: dict[str, Any], jwks_url: str, tmp_path: Path
) -> None:
    """Supabase's key rotation: tokens signed with the new asymmetric keys (JWKS) and with the
    legacy JWT secret are both live; each is checked with its own key only (issue 13)."""
    issuer = "https://abc.supabase.co/auth/v1"
    secret = "legacy-jwt-secret-" * 3
    verifier = TokenVerifier(
        Settings(
            _env_file=None,
            rekindle_data_dir=tmp_path,
            auth_jwks_url=jwks_url,  # type: ignore[call-arg]
            auth_hs256_secret=secret,
            auth_issuer=issuer,
            auth_audience="authenticated",
        )
    )
    claims = _claims(iss=issuer, aud="authenticated", sub="5b1c-user")
    es = jwt.encode(claims, keys["ec"], algorithm="ES256", headers={"kid": "ec-1"})
    hs = jwt.encode(claims, secret, algorithm="HS256")
    assert verifier.verify(es).subject == "5b1c-user"
    assert verifier.verify(hs).subject == "5b1c-user"
    assert verifier.accepts_hs256()
    for forged in (
        jwt.encode(claims, "not-the-secret-" * 3, algorithm="HS256"),
        jwt.encode({**claims, "iss": "https://evil.example/"}, secret, algorithm="HS256"),
        _hs256_with_public_key(keys["rsa"]),  # HMAC keyed with the public key: still refused
    ):
        with pytest.raises(Unauthorized):
            verifier.verify(forged)


def test_email_claim_is_configurable(keys: dict[str, Any], jwks_url: str, tmp_path: Path) -> None:
    """Auth0 access tokens carry the email only as a namespaced custom claim (issue 13)."""
    claim = "https://rekindle.example/email"
    verifier = TokenVerifier(
        Settings(
            _env_file=None,
            rekindle_data_dir=tmp_path,
            auth_jwks_url=jwks_url,  # type: ignore[call-arg]
            auth_issuer=ISSUER,
            auth_audience=AUDIENCE,
            auth_email_claim=claim,
        )
    )
    namespaced = _claims(email=None, **{claim: "carol@example.com"})
    token = jwt.encode(namespaced, keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    assert verifier.verify(token).email == "carol@example.com"
    # A token with only the standard claim still gives the email.
    plain = jwt.encode(_claims(), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    assert verifier.verify(plain).email == "alice@example.com"
    # A claim of the wrong type gives no email rather than an error.
    odd = jwt.encode(
        _claims(email=None, **{claim: ["x"]}), keys["rsa"], "RS256", headers={"kid": "rsa-1"}
    )
    assert verifier.verify(odd).email is None
