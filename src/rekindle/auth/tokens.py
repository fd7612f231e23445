"""Verify bearer JWTs (RFC 7519) with PyJWT.

Three modes, chosen by settings:
- JWKS (`AUTH_JWKS_URL`, or derived from `AUTH0_DOMAIN`): RS256/ES256 keys fetched from the provider's
  JSON Web Key Set (RFC 7517) and cached; the token's `kid` picks the key. When `AUTH_HS256_SECRET`
  is set too, tokens whose header says `HS256` are checked with that secret instead (Supabase's
  move from its legacy JWT secret to asymmetric signing keys: both kinds of token are live while
  the keys rotate). A token's `alg` only picks which of the configured keys to try; the secret is
  never tried with a public key, nor a public key as an HMAC secret.
- Shared secret (`AUTH_HS256_SECRET` alone, Supabase's JWT secret): HS256.
- Local issuer (neither set): HS256 with a secret kept in the data folder; `rekindle token create`.

`AUTH0_DOMAIN` may be given bare (`tenant.eu.auth0.com`), with a scheme or with a trailing slash
(`https://tenant.eu.auth0.com/`): it is reduced to the host, and the issuer is then Auth0's
`https://tenant.eu.auth0.com/`. The email is read from `AUTH_EMAIL_CLAIM` (default `email`; Auth0
access tokens carry it only as a namespaced custom claim such as `https://example.com/email`).

Issuer and audience are checked when configured (always in local mode), expiry always. `alg: none`
and any algorithm outside the mode's list are rejected by PyJWT's `algorithms` argument.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import jwt

from rekindle.config import Settings
from rekindle.errors import Unauthorized
from rekindle.secrets import local_secret

LOCAL_ISSUER = "rekindle-local"
LOCAL_AUDIENCE = "rekindle"


def _header_alg(token: str) -> str | None:
    """The `alg` of a token's (unverified) header, or None when the header cannot be read."""
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None
    return alg if isinstance(alg, str) else None


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for: `subject` (the `sub` claim), an optional email, and the
    sign-in session it was issued for (`sid`, local tokens from a session only)."""

    subject: str
    email: str | None
    session_id: str | None = None


def auth0_host(domain: str | None) -> str | None:
    """The host of an `AUTH0_DOMAIN` value: scheme, path and trailing slashes removed, lower-cased
    (`https://Tenant.auth0.com/` -> `tenant.auth0.com`); None for none. Raises ValueError when no
    host is left."""
    if not domain or not domain.strip():
        return None
    text = domain.strip()
    if "://" not in text:
        text = "https://" + text
    host = urlsplit(text).netloc.rstrip("/").lower()
    if not host:
        raise ValueError(f"AUTH0_DOMAIN {domain!r} names no host")
    return host


class TokenVerifier:
    """Verifies tokens for one configuration. Thread-safe; build one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        domain = auth0_host(settings.auth0_domain)
        self.email_claim = settings.auth_email_claim or "email"
        self.jwks_url = settings.auth_jwks_url or (
            f"https://{domain}/.well-known/jwks.json" if domain else None
        )
        self.issuer = settings.auth_issuer or (f"https://{domain}/" if domain else None)
        self.audience = settings.auth_audience or settings.auth0_audience
        self.mode = "jwks" if self.jwks_url else "hs256" if settings.auth_hs256_secret else "local"
        if self.mode == "local":
            self.issuer, self.audience = LOCAL_ISSUER, LOCAL_AUDIENCE

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient:
        assert self.jwks_url
        # The key set is cached for 10 minutes; no per-key cache (it never expires), so a key the
        # provider rotated out stops verifying at the next refresh.
        return jwt.PyJWKClient(self.jwks_url, cache_keys=False, lifespan=600, timeout=10)

    @cached_property
    def _local_secret(self) -> bytes:
        return local_secret(self.settings.data_dir, "token-signing")

    def _key_and_algorithms(self, token: str) -> tuple[Any, list[str]]:
        if (
            self.mode == "jwks"
            and self.settings.auth_hs256_secret
            and _header_alg(token) == "HS256"
        ):
            return self.settings.auth_hs256_secret, ["HS256"]
        if self.mode == "jwks":
            try:
                return self._jwks.get_signing_key_from_jwt(token).key, ["RS256", "ES256"]
            except jwt.PyJWKClientConnectionError as exc:
                raise Unauthorized("The identity provider's keys could not be fetched.") from exc
            except jwt.PyJWKClientError as exc:
                raise Unauthorized("The token's signing key is unknown.") from exc
        if self.mode == "hs256":
            return self.settings.auth_hs256_secret, ["HS256"]
        return self._local_secret, ["HS256"]

    def verify(self, token: str) -> Identity:
        """The identity of a valid token. Raises Unauthorized (code `invalid_token`) otherwise."""
        try:
            key, algorithms = self._key_and_algorithms(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.", code="invalid_token") from exc
        except (TypeError, ValueError) as exc:  # e.g. `alg: ES256` naming one of the RSA keys
            raise Unauthorized(
                "The token's algorithm does not match its key.", code="invalid_token"
            ) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise Unauthorized("The token has no usable subject.", code="invalid_token")
        email = claims.get(self.email_claim)
        if email is None and self.email_claim != "email":
            email = claims.get("email")
        sid = claims.get("sid") if self.mode == "local" else None
        return Identity(
            subject=subject,
            email=email if isinstance(email, str) else None,
            session_id=sid if isinstance(sid, str) else None,
        )

    def accepts_hs256(self) -> bool:
        """Whether tokens signed with the shared HS256 secret are accepted (alone or beside JWKS)."""
        return self.mode == "hs256" or (
            self.mode == "jwks" and bool(self.settings.auth_hs256_secret)
        )

    def issue_local(
        self, subject: str, email: str | None, ttl_seconds: int, *, session_id: str | None = None
    ) -> str:
        """A local-issuer token for `subject`, valid `ttl_seconds`. Only in local mode. With
        `session_id` it carries a `sid` claim and stops working when that session is revoked."""
        if self.mode != "local":
            raise RuntimeError("tokens are issued by the identity provider, not by Rekindle")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        if email:
            claims["email"] = email
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(claims, self._local_secret, algorithm="HS256")
