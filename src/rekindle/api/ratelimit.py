"""Per-user and per-client-address rate limits on upload, restore and animate.

A sliding-window log: a request is allowed when fewer than `limit` requests of the same scope and
key were allowed in the last `window` seconds; it is then recorded. So at most `limit` requests
pass in *any* window (a fixed window lets twice that through across its boundary), and a refused
request is told exactly when the oldest recorded one leaves the window (`Retry-After`). Refused
requests are not recorded, so a client that backs off recovers on time.

Backends:
- `RedisLimiter` (production, `REDIS_URL`): one Lua script per check on a sorted set
  `rekindle:rl:{scope}:{key}` (members: request stamps, scores: Redis `TIME` in microseconds), so
  every API replica shares the counts and one clock. The key expires with its window.
- `MemoryLimiter` (embedded): a lock-protected dict of deques in this process.

If Redis cannot be reached the limiter lets requests through (logged): availability over limits;
the queue, on the same Redis, fails those requests anyway.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from fastapi import Depends, Request

from rekindle.api.deps import CurrentUser, RuntimeDep
from rekindle.api.openapi import ErrorBody
from rekindle.config import Settings
from rekindle.errors import TooManyRequests
from rekindle.logcontext import bind
from rekindle.metrics import RATE_LIMITED

log = logging.getLogger(__name__)

KEY_PREFIX = "rekindle:rl"


@dataclass(frozen=True)
class Recent:
    """Requests recorded in a window: `count`, and the seconds since the oldest and the newest."""

    count: int = 0
    oldest_age: float = 0.0
    newest_age: float = 0.0


@dataclass(frozen=True)
class Decision:
    """The outcome of one check: `allowed`, and when refused, `retry_after` seconds (>= 1)."""

    allowed: bool
    retry_after: int = 0


class Limiter:
    """Interface: `hit(scope, key, limit, window)` records and allows, or refuses."""

    def hit(self, scope: str, key: str, limit: int, window: int) -> Decision:
        """Allow and record one request of `key` in `scope` when fewer than `limit` were allowed
        in the last `window` seconds; else refuse with the seconds until one is allowed."""
        raise NotImplementedError

    def peek(self, scope: str, key: str, window: int) -> Recent:
        """What was recorded for `key` in `scope` in the last `window` seconds, recording nothing
        (sign-in counts failures only, after the password was checked)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every count (tests)."""

    def close(self) -> None:
        """Release connections."""


class MemoryLimiter(Limiter):
    """Process-local sliding-window log (the embedded defaults: one API process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def hit(self, scope: str, key: str, limit: int, window: int) -> Decision:
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault((scope, key), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                wait = hits[0] + window - now
                return Decision(False, max(1, math.ceil(wait)))
            hits.append(now)
            if len(self._hits) > 100_000:  # drop idle keys now and then: memory stays bounded
                self._prune(now, window)
            return Decision(True)

    def peek(self, scope: str, key: str, window: int) -> Recent:
        now = self._clock()
        with self._lock:
            hits = self._hits.get((scope, key))
            while hits and hits[0] <= now - window:
                hits.popleft()
            if not hits:
                return Recent()
            return Recent(len(hits), now - hits[0], now - hits[-1])

    def _prune(self, now: float, window: int) -> None:
        for name in [k for k, v in self._hits.items() if not v or v[-1] <= now - window]:
            del self._hits[name]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


# KEYS[1]: the sorted set. ARGV: limit, window (seconds), a unique member suffix.
# Returns {1, 0} when allowed, {0, retry_after_microseconds} when refused.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2]) * 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
return {1, 0}
"""


# KEYS[1]: the sorted set. ARGV: window (seconds). Returns {count, oldest age, newest age} (µs).
_PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]) * 1000000)
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then return {0, 0, 0} end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {n, now - tonumber(oldest[2]), now - tonumber(newest[2])}
"""


class RedisLimiter(Limiter):
    """Sliding-window log in Redis, shared by every API replica."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(_SLIDING_WINDOW)
        self._peek = self.client.register_script(_PEEK)

    def hit(self, scope: str, key: str, limit: int, window: int) -> Decision:
        import redis

        try:
            allowed, wait_us = self._script(
                keys=[f"{KEY_PREFIX}:{scope}:{key}"], args=[limit, window, uuid.uuid4().hex]
            )
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable, request let through: %s", type(exc).__name__)
            return Decision(True)
        if allowed:
            return Decision(True)
        return Decision(False, max(1, math.ceil(int(wait_us) / 1_000_000)))

    def peek(self, scope: str, key: str, window: int) -> Recent:
        import redis

        try:
            count, oldest, newest = self._peek(keys=[f"{KEY_PREFIX}:{scope}:{key}"], args=[window])
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable, nothing counted: %s", type(exc).__name__)
            return Recent()
        return Recent(int(count), int(oldest) / 1_000_000, int(newest) / 1_000_000)

    def reset(self) -> None:
        for key in self.client.scan_iter(f"{KEY_PREFIX}:*"):
            self.client.delete(key)

    def close(self) -> None:
        self.client.close()


def make_limiter(settings: Settings) -> Limiter:
    """Redis-backed when `REDIS_URL` is set, else in memory."""
    return RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()


def _trusted(peer: str, proxies: list[str]) -> bool:
    if "*" in proxies:
        return True
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    for entry in proxies:
        try:
            if address in ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy
    (`TRUSTED_PROXIES`), the right-most `X-Forwarded-For` entry that is not itself trusted (with
    `*`, the right-most entry: the one the proxy in front appended)."""
    peer = request.client.host if request.client else "unknown"
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    if "*" in proxies:
        # Any peer counts as a proxy, so only the hop it appended itself is known to be true;
        # what lies left of it is whatever the client chose to send.
        return forwarded[-1] if forwarded else peer
    for hop in reversed(forwarded):
        if not _trusted(hop, proxies):
            return hop
    return forwarded[0] if forwarded else peer


ACTIONS = ("upload", "restore", "animate", "signin", "batch", "export")

EARLY_CHECKED = "rekindle_rate_checked"
"""`request.state` attribute: the actions `api.upload_gate` already counted for this request."""


def limit_for(settings: Settings, action: str) -> int:
    """Requests per window one user may make for `action` (upload, restore, animate, or signin,
    where the "user" is the email being signed in to)."""
    return {
        "upload": settings.rate_limit_upload_per_minute,
        "restore": settings.rate_limit_restore_per_minute,
        "animate": settings.rate_limit_animate_per_minute,
        "signin": settings.rate_limit_signin_per_minute,
        "batch": settings.rate_limit_batch_per_minute,
        "export": settings.rate_limit_export_per_minute,
    }[action]


def check(limiter: Limiter, settings: Settings, action: str, user_id: str, address: str) -> None:
    """Count one `action` request against the user's and the address's limits.

    Raises TooManyRequests (429 `rate_limited`, `Retry-After` in seconds) when either is spent.
    The user is checked first: a user hammering past their own limit does not use up the
    allowance of the address they may share with others (a NAT, an office)."""
    if not settings.rate_limit_enabled:
        return
    window = settings.rate_limit_window_seconds
    per_user = limit_for(settings, action)
    checks = (
        ("user", user_id, per_user),
        ("ip", address, per_user * settings.rate_limit_per_ip_multiplier),
    )
    for by, key, limit in checks:
        decision = limiter.hit(f"{action}:{by}", key, limit, window)
        if not decision.allowed:
            RATE_LIMITED.labels(action, by).inc()
            bind(rate_limited=f"{action}:{by}")
            who = "you" if by == "user" else "your network address"
            raise TooManyRequests(
                f"Too many {action} requests from {who}: at most {limit} per {window} s. "
                f"Retry in {decision.retry_after} s.",
                headers={"Retry-After": str(decision.retry_after)},
                extra={"retry_after": decision.retry_after, "limit": limit, "window": window},
            )


def rate_limit(action: str) -> Any:
    """A FastAPI dependency counting one `action` request for the signed-in user and their
    address (use as `dependencies=[rate_limit("restore")]`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown rate-limited action {action!r}")

    def _dependency(request: Request, runtime: RuntimeDep, user: CurrentUser) -> None:
        if action in getattr(request.state, EARLY_CHECKED, ()):
            return  # counted before the body was read (api.upload_gate)
        settings = runtime.settings
        check(runtime.limiter, settings, action, user.id, client_address(request, settings))

    _dependency.__name__ = f"rate_limit_{action}"
    return Depends(_dependency)


TOO_MANY_REQUESTS_RESPONSE: dict[str, Any] = {
    "model": ErrorBody,
    "description": "Rate limited (`rate_limited`): too many requests from this user or address",
    "headers": {
        "Retry-After": {
            "description": "Seconds until a request will be accepted again",
            "schema": {"type": "integer"},
        }
    },
}


def limited(*actions: str) -> dict[str, Any]:
    """Route decorator arguments that rate-limit the route for `actions` and document its 429:
    `@router.post("/x", **limited("restore"))`."""
    return {
        "dependencies": [rate_limit(action) for action in actions],
        "responses": {429: TOO_MANY_REQUESTS_RESPONSE},
    }


SIGNUP_WINDOW_SECONDS = 3600


def limit_signup(limiter: Limiter, settings: Settings, email: str, address: str) -> None:
    """Count one sign-up against the email's (`RATE_LIMIT_SIGNUP_PER_EMAIL_PER_HOUR`: each one
    sends a mail) and the client address's (`RATE_LIMIT_SIGNUP_PER_HOUR`) hourly limits. Raises
    TooManyRequests (429 `rate_limited`, `Retry-After`)."""
    if not settings.rate_limit_enabled:
        return
    checks = (
        ("email", email, settings.rate_limit_signup_per_email_per_hour),
        ("ip", address, settings.rate_limit_signup_per_hour),
    )
    for by, key, limit in checks:
        decision = limiter.hit(f"signup:{by}", key, limit, SIGNUP_WINDOW_SECONDS)
        if not decision.allowed:
            RATE_LIMITED.labels("signup", by).inc()
            who = "this email address" if by == "email" else "your network address"
            raise TooManyRequests(
                f"Too many sign-ups from {who}: at most {limit} an hour. "
                f"Retry in {decision.retry_after} s.",
                headers={"Retry-After": str(decision.retry_after)},
                extra={"retry_after": decision.retry_after, "limit": limit},
            )
