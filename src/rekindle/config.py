"""Typed settings for every part of Rekindle, read from the environment and `.env`.

This is the only module that reads environment variables. Names follow the seed documents
(`DATABASE_URL`, `REDIS_URL`, `S3_BUCKET`, `SILICONFLOW_API_KEY`, ...). With nothing set, Rekindle
runs embedded: SQLite, a local storage folder and a server-less queue under `REKINDLE_DATA_DIR`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CreditPack(BaseModel):
    """A credit pack sold through Stripe Checkout (one entry of `CREDIT_PACKS`)."""

    price_id: str
    """The Stripe Price (`price_...`) the customer pays."""
    credits: int = Field(ge=1)
    """Credits granted once the payment succeeds."""
    name: str | None = None
    """Shown to the user; defaults to the pack's key."""


class EngineBudget(BaseModel):
    """A provider budget for one engine (one entry of `ENGINE_BUDGETS`), shared by all workers."""

    requests_per_minute: int | None = Field(default=None, ge=1)
    """Engine calls started per `BUDGET_WINDOW_SECONDS` (60 s), across every worker; None: no cap."""
    max_in_flight: int | None = Field(default=None, ge=1)
    """Engine calls running at once across every worker; None: no cap."""


class Settings(BaseSettings):
    """All configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- embedded defaults -------------------------------------------------------------------
    rekindle_data_dir: Path = Field(default=Path("rekindle-data"))
    """Folder for the SQLite database, stored objects, queue and local signing secret."""

    # --- database, queue, storage --------------------------------------------------------------
    database_url: str | None = None
    """SQLAlchemy URL; `postgresql://...` is served by psycopg 3. Default: SQLite in the data dir."""
    database_pool_size: int = Field(default=50, ge=1)
    """PostgreSQL connections one process keeps at most (its pool; none overflow). PostgreSQL's
    `max_connections` must cover the sum over every API replica and worker process."""
    redis_url: str | None = None
    """Celery broker (and live-event bus). Default: a broker that needs no server."""
    s3_bucket: str | None = None
    """When set, objects go to S3 (or an S3-compatible store); else to the data dir."""
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    """Endpoint of an S3-compatible store (MinIO, moto, R2); None means AWS itself."""
    s3_public_endpoint_url: str | None = None
    """The same store as browsers and providers reach it, when that differs from
    `S3_ENDPOINT_URL` (e.g. `http://minio:9000` inside compose, `https://files.example.com` outside).
    Presigned URLs are signed for this host (SigV4 signs the Host header, so the URL cannot simply
    be rewritten afterwards). None: `S3_ENDPOINT_URL`."""
    cloudfront_domain: str | None = None
    """When set, download URLs are `https://{domain}/{key}` instead of presigned S3 URLs."""
    public_base_url: str | None = None
    """Origin under which this API is reached, for every link it hands out (the local store's
    signed URLs, share links, export tickets, the verification email, Stripe's return URLs); by
    default the origin of each request."""
    signed_url_ttl_seconds: int = 3600

    # --- auth -----------------------------------------------------------------------------------
    auth_jwks_url: str | None = None
    """JWKS of the identity provider (Auth0: https://TENANT/.well-known/jwks.json)."""
    auth_hs256_secret: str | None = None
    """Shared HS256 secret (Supabase's JWT secret), used when no JWKS URL is set."""
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth0_domain: str | None = None
    """Seed 004 name: derives the JWKS URL and issuer when they are not given."""
    auth0_audience: str | None = None
    local_token_ttl_seconds: int = 7 * 24 * 3600

    # --- uploads and images -----------------------------------------------------------------------
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    """Decompression-bomb bound: width × height above this is rejected before decoding."""
    thumbnail_size: int = 400
    """Longest side of thumbnails, pixels."""

    # --- restoration ------------------------------------------------------------------------------
    rekindle_engine: str = "classic"
    """Default restoration engine."""
    rekindle_engines_allowed: str = "classic,siliconflow,comfyui,runpod"
    """Comma-separated engines a request may name (only configured ones are offered)."""
    task_time_limit_seconds: int = 420
    """An attempt processing longer is failed by the sweep (the worker died). It must exceed every
    engine's own limit (seed 003's 5 minutes for ComfyUI and RunPod) by `SWEEP_MARGIN_SECONDS`."""
    pending_time_limit_seconds: int = 1800
    """An attempt still queued after this long is failed by the sweep (its task was lost)."""
    sweep_interval_seconds: int = 60
    result_write_retry_seconds: float = Field(default=60.0, ge=0)
    """How long a worker keeps trying to record a finished result (restoration or animation) while
    the database is unreachable, seconds (backoff 0.25 s doubling to 5 s; 0: no retry). Past it the
    result is dropped and the sweep fails and refunds the attempt."""
    worker_concurrency: int = 64
    """Threads per worker process; remote engines spend their time waiting on the network. Twice
    the remote engines' default in-flight bound (`*_MAX_IN_FLIGHT`, at most 32): a thread holds a
    provider's slot only while the provider works, and its claim, storage and record take time
    too; with no spare threads the slots sit idle meanwhile (issue 16, docs/benchmarks.md, tenth
    pass)."""
    classic_max_parallel: int = 2
    """At most this many CPU-bound classic restorations run at once in one worker."""

    siliconflow_api_key: str | None = None
    siliconflow_api_url: str = "https://api.siliconflow.com/v1/images/generations"
    siliconflow_model: str = "Qwen/Qwen-Image-Edit"
    siliconflow_timeout: float = 120.0
    siliconflow_max_in_flight: int = 32

    comfyui_url: str | None = None
    comfyui_workflow: Path | None = None
    """A workflow JSON to use instead of the packaged restore workflow."""
    comfyui_timeout: float = 300.0
    comfyui_max_in_flight: int = 8
    comfyui_poll_interval: float = 2.0
    """Seconds of websocket silence before `/history` and `/queue` are checked over HTTP; also the
    polling period once the socket is gone."""

    runpod_api_key: str | None = None
    runpod_endpoint_id: str | None = None
    runpod_api_base: str = "https://api.runpod.ai/v2"
    runpod_timeout: float = 300.0
    runpod_poll_interval: float = 2.0
    runpod_max_in_flight: int = 32
    runpod_animation_endpoint_id: str | None = None
    runpod_animation_workflow: Path | None = None
    """An image-to-video workflow JSON to use instead of the packaged `animate.json`."""

    rekindle_animation_engine: str = "local"
    """Default animation engine: `local` (CPU, no model) or `runpod`."""
    animation_duration_seconds: float = 5.0

    max_side_pixels: int = 3584
    """Seed 001: longest side submitted to an engine, pixels."""

    # --- credits and billing (docs/credits.md) --------------------------------------------------
    free_credits: int = Field(default=10, ge=0)
    """Credits a new user receives once, on first sign-in."""
    price_restore: int = Field(default=1, ge=0)
    """Credits one restoration costs (taken when accepted, refunded if it fails)."""
    price_animation: int = Field(default=3, ge=0)
    """Credits one animation (preview) costs."""
    price_hd: int = Field(default=5, ge=0)
    """Credits an HD animation result costs."""
    stripe_secret_key: str | None = None
    """Stripe secret key (`sk_...`); with the packs, enables `POST /billing/checkout`."""
    stripe_webhook_secret: str | None = None
    """Signing secret of the webhook endpoint (`whsec_...`); enables `POST /billing/webhook`."""
    stripe_api_base: str | None = None
    """Base URL of Stripe's API; None means Stripe's own (tests point it at a local fake)."""
    credit_packs: dict[str, CreditPack] = Field(default_factory=dict)
    """JSON: `{"starter": {"price_id": "price_...", "credits": 50}, ...}`."""
    checkout_success_url: str | None = None
    """Where Checkout sends the buyer after paying (`{CHECKOUT_SESSION_ID}` is filled in by
    Stripe); default: this API's origin with `?checkout=success`."""
    checkout_cancel_url: str | None = None
    """Where Checkout sends a buyer who gives up; default: this API's origin with
    `?checkout=cancelled`."""

    # --- web --------------------------------------------------------------------------------------
    cors_origins: str = ""
    log_level: str = "INFO"

    # --- production readiness (docs/operations.md) ----------------------------------------------
    log_format: str = "text"
    """`json` (one JSON object per line: time, level, logger, message, request_id, attempt_id,
    user_id, ...) for production log pipelines, or `text` (the default, for a terminal)."""
    allowed_hosts: str = "*"
    """Comma-separated `Host` names the API answers (`*.example.com` wildcards); others get 400."""
    hsts_seconds: int = Field(default=0, ge=0)
    """`Strict-Transport-Security: max-age=...` on every response when > 0 (only behind HTTPS)."""
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest body of a request that is not a multipart upload (JSON, webhooks), bytes."""
    metrics_token: str | None = None
    """When set, `GET /metrics` needs `Authorization: Bearer <token>`; else it is open (like
    /healthz: keep it off the public ingress)."""
    worker_metrics_port: int | None = None
    """When set, each `rekindle worker` serves its own Prometheus metrics on this TCP port."""

    rate_limit_enabled: bool = True
    """Per-user and per-address limits on upload, restore and animate (429 + Retry-After)."""
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    """Length of the sliding window the limits below count over, seconds."""
    rate_limit_upload_per_minute: int = Field(default=60, ge=1)
    """Uploads one user may make per window."""
    rate_limit_restore_per_minute: int = Field(default=30, ge=1)
    """Restorations one user may request per window (a burst of 100 is stopped at 30)."""
    rate_limit_animate_per_minute: int = Field(default=10, ge=1)
    """Animations (previews and HD results) one user may request per window."""
    rate_limit_signin_per_minute: int = Field(default=10, ge=1)
    """Password sign-ins one account (email) may attempt per window (guessing passwords)."""
    rate_limit_per_ip_multiplier: int = Field(default=4, ge=1)
    """One client address may make this many times a user's limit (several people behind one
    NAT share it)."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose `X-Forwarded-For` names the client; `*`
    trusts any. Empty: the TCP peer is the client."""

    engine_budgets: dict[str, EngineBudget] = Field(default_factory=dict)
    """JSON: `{"siliconflow": {"requests_per_minute": 3, "max_in_flight": 2}}`: ceilings per engine
    shared by every worker (through Redis; process-local on the embedded queue)."""
    budget_window_seconds: int = Field(default=60, ge=1)
    """The "minute" of `requests_per_minute`, seconds (shorter in tests)."""
    budget_max_wait_seconds: int = Field(default=6 * 3600, ge=1)
    """An attempt still waiting on its engine's budget this long after it was accepted is failed
    (`provider_busy`, credits refunded), seconds."""

    # --- issue 13: CloudFront signed URLs ---
    cloudfront_key_id: str | None = None
    """ID of the CloudFront public key (in the distribution's trusted key group) whose private key
    signs download URLs; with `CLOUDFRONT_PRIVATE_KEY_PATH`."""
    cloudfront_private_key_path: Path | None = None
    """PEM file of that key pair's RSA private key."""
    cloudfront_public: bool = False
    """Serve unsigned, never-expiring CloudFront URLs (a distribution open to anyone who knows a
    key). Only with this explicit `true`; otherwise `CLOUDFRONT_DOMAIN` needs the key pair."""

    # --- issue 13: engines ready for the real providers ---
    siliconflow_image_input: Literal["base64", "url"] = "base64"
    """How the photo reaches SiliconFlow: `base64` (a data URI in the request, as its English
    reference documents) or `url` (a presigned URL of the object store; refused at start-up when
    the signed host is loopback or private, which SiliconFlow cannot reach)."""
    siliconflow_image_url_check: bool = True
    """In URL mode, refuse to start when the signed host is loopback or private. False only for a
    SiliconFlow-compatible service inside the same network."""
    siliconflow_max_image_bytes: int = Field(default=10_000_000, ge=100_000)
    """Largest data URI sent to SiliconFlow, bytes (the image is re-encoded smaller to fit). The
    reference names no limit; 10 MB is the common bound of image-edit APIs (and RunPod's)."""
    siliconflow_negative_prompt: str = (
        "scratches, dust, cracks, stains, tears, blur, noise, jpeg artifacts, deformed faces, "
        "text, watermark"
    )
    """`negative_prompt` sent with Qwen-Image-Edit(-2509); empty: not sent."""
    sweep_margin_seconds: int = Field(default=60, ge=0)
    """`TASK_TIME_LIMIT_SECONDS` must exceed every configured engine's own time limit by at least
    this much (checked when a worker starts), so the sweep never fails a call still running."""

    # --- issue 12: hostile input (docs/security.md) ---
    max_decode_bytes: int = Field(default=240_000_000, ge=1_000_000)
    """Memory one image may take to decode and convert, bytes: width × height × bytes per pixel
    of the decoded mode (Pillow: 1 for L/P, 2 for 16-bit gray, 4 for RGB/RGBA/float), plus the
    converted copy for modes converted at full size. Over it: 422 `image_too_large`. The default
    is a 60-megapixel RGB photo."""
    decode_max_parallel: int = Field(default=2, ge=1)
    """Full image decodes (upload validation, thumbnails, preprocessing) one process runs at once;
    the others wait. Peak decode memory per process is about this times `MAX_DECODE_BYTES`."""
    max_header_bytes: int = Field(default=64 * 1024, ge=4096)
    """Largest request line plus headers `rekindle serve` reads, bytes; more gets 431 before the
    rest is buffered."""
    http_read_timeout_seconds: float = Field(default=30.0, gt=0)
    """`rekindle serve` closes a connection whose request line, headers or body stall this long
    between two reads (a request that trickles in), seconds; headers cut off get 408."""

    # --- issue 12: accounts, quotas and crafted input (docs/security.md) ------------------------
    auth_email_claim: str = "email"
    """The token claim that holds the user's email (`https://example.com/email` for an Auth0
    namespaced custom claim); `email` is read when it is absent."""
    storage_quota_bytes: int = Field(default=2 * 1024**3, ge=0)
    """Bytes one user's photos may occupy in storage (originals, thumbnails, restorations,
    animations); an upload past it gets 413 `quota_exceeded`. 0: no quota."""
    uploads_per_day: int = Field(default=500, ge=0)
    """Photos one user may upload per UTC day; past it, 429 `quota_exceeded`. 0: no limit."""
    signin_delay_after_failures: int = Field(default=5, ge=0)
    """Failed sign-ins from one address before each further attempt from it is delayed
    (1 s, doubling per failure up to `SIGNIN_MAX_DELAY_SECONDS`)."""
    signin_max_delay_seconds: float = Field(default=8.0, ge=0)
    """The longest delay a failed sign-in streak adds to an attempt, seconds."""

    # --- issue 15: display copies, sign-up, sessions, share links (docs/web.md) -----------------
    display_max_side: int = Field(default=2560, ge=64)
    """Longest side of the JPEG display copy made of every original at upload, pixels."""
    signup_enabled: bool = False
    """Let strangers create local accounts (`POST /api/v1/auth/signup`)."""
    signup_require_verification: bool = True
    """Activate a sign-up only through an emailed link. Without `SMTP_URL` this must be false for
    sign-up to be enabled (start-up refuses the combination)."""
    signup_credits: int | None = Field(default=None, ge=0)
    """Credits an account made through sign-up receives; None: `FREE_CREDITS`."""
    signup_verification_ttl_hours: int = Field(default=24, ge=1)
    """How long an emailed verification link works, hours."""
    rate_limit_signup_per_hour: int = Field(default=10, ge=1)
    """Sign-ups one client address may attempt per hour."""
    rate_limit_signup_per_email_per_hour: int = Field(default=3, ge=1)
    """Sign-ups (verification emails) one email address may get per hour."""
    smtp_url: str | None = None
    """`smtp://user:password@host:587` (STARTTLS when offered) or `smtps://user:password@host:465`
    (implicit TLS); user and password are URL-encoded."""
    smtp_from: str = "Rekindle <no-reply@localhost>"
    """The From header of the verification emails."""
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    session_ttl_days: int = Field(default=30, ge=1)
    """Life of a sign-in session (the HttpOnly refresh cookie), days; renewed on each refresh."""
    session_access_token_ttl_seconds: int = Field(default=900, ge=60)
    """Life of the access tokens issued with a session (sign-in, refresh), seconds."""
    share_max_days: int = Field(default=365, ge=1)
    """Longest life of a share link, days (a link's default is 30)."""

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _blank_smtp_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _signup_can_verify(self) -> Settings:
        """Sign-up that must verify addresses needs a way to send mail. Raises ValueError."""
        if self.signup_enabled and self.signup_require_verification and not self.smtp_url:
            raise ValueError(
                "SIGNUP_ENABLED=true needs SMTP_URL to email verification links; set SMTP_URL, "
                "or SIGNUP_REQUIRE_VERIFICATION=false to activate accounts without verification"
            )
        return self

    # --- issue 16: albums, scans, batches, export ---
    rate_limit_batch_per_minute: int = Field(default=10, ge=1)
    """Batch restorations (`POST /photos/restore-batch`) per user per window; each may hold up to
    500 photos, which are not counted against the single-restore limit."""
    rate_limit_export_per_minute: int = Field(default=5, ge=1)
    """ZIP exports per user per window."""

    @field_validator("database_url", "redis_url", "s3_bucket", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("stripe_secret_key", "stripe_webhook_secret", "stripe_api_base", mode="before")
    @classmethod
    def _blank_stripe_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("engine_budgets", mode="before")
    @classmethod
    def _budgets_from_json(cls, value: object) -> object:
        """Accept the JSON text of `ENGINE_BUDGETS` also when passed directly (not via env)."""
        if isinstance(value, str):
            import json

            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("metrics_token", "worker_metrics_port", mode="before")
    @classmethod
    def _blank_ops_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "cloudfront_domain", "cloudfront_key_id", "cloudfront_private_key_path", mode="before"
    )
    @classmethod
    def _blank_cloudfront_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _cloudfront_urls_are_signed(self) -> Settings:
        """`CLOUDFRONT_DOMAIN` serves private photos: its URLs are signed with a key pair, unless
        the operator says explicitly that they are public. Raises ValueError (start-up fails)."""
        pair = (self.cloudfront_key_id, self.cloudfront_private_key_path)
        if any(pair) and not all(pair):
            raise ValueError(
                "set both CLOUDFRONT_KEY_ID and CLOUDFRONT_PRIVATE_KEY_PATH to sign CloudFront URLs"
            )
        if self.cloudfront_domain and not all(pair) and not self.cloudfront_public:
            raise ValueError(
                "CLOUDFRONT_DOMAIN is set but its URLs would be unsigned and never expire: set "
                "CLOUDFRONT_KEY_ID and CLOUDFRONT_PRIVATE_KEY_PATH (a key of the distribution's "
                "trusted key group), or CLOUDFRONT_PUBLIC=true for a public distribution"
            )
        return self

    @model_validator(mode="after")
    def _identity_provider_is_pinned(self) -> Settings:
        """An identity provider's tokens must be meant for this API (audience) and, with a JWKS,
        come from that provider (issuer): without those checks any token the tenant issues (an
        ID token, an access token for another API) would sign in. Raises ValueError."""
        if (self.auth_jwks_url or self.auth0_domain or self.auth_hs256_secret) and not (
            self.auth_audience or self.auth0_audience
        ):
            raise ValueError(
                "an identity provider is configured (AUTH_JWKS_URL, AUTH0_DOMAIN or "
                "AUTH_HS256_SECRET) but no audience: set AUTH_AUDIENCE (or AUTH0_AUDIENCE) to "
                "this API's identifier (Supabase: authenticated)"
            )
        if self.auth_jwks_url and not (self.auth_issuer or self.auth0_domain):
            raise ValueError(
                "AUTH_JWKS_URL is set but no issuer: set AUTH_ISSUER (or AUTH0_DOMAIN)"
            )
        return self

    @field_validator("credit_packs", mode="before")
    @classmethod
    def _packs_from_json(cls, value: object) -> object:
        """Accept the JSON text of `CREDIT_PACKS` also when passed directly (not via env)."""
        if isinstance(value, str):
            import json

            return json.loads(value) if value.strip() else {}
        return value

    @property
    def data_dir(self) -> Path:
        return self.rekindle_data_dir.resolve()

    @property
    def sqlalchemy_url(self) -> str:
        """Database URL with the driver named (psycopg 3 for PostgreSQL)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'rekindle.sqlite3'}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_embedded_queue(self) -> bool:
        return self.redis_url is None

    @property
    def broker_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{self.data_dir / 'queue.sqlite3'}"

    @property
    def engines_allowed(self) -> list[str]:
        return [name.strip() for name in self.rekindle_engines_allowed.split(",") if name.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
