"""Slow password guessing down without letting anyone lock an account's owner out.

Only *failed* sign-ins are counted, after the password was checked, and never per email alone:
- per (email, client address): `RATE_LIMIT_SIGNIN_PER_MINUTE` failures per window, then that
  address gets 429 for that email until the oldest failure leaves the window. Someone guessing
  from elsewhere does not stop the owner, whose own address has no failures;
- per client address: `RATE_LIMIT_PER_IP_MULTIPLIER` times as many, across all emails
  (credential stuffing sprays many accounts from one address);
- delays, not locks: past `SIGNIN_DELAY_AFTER_FAILURES` failures from an address in the window,
  each further attempt from it must come at least 1 s after its last failure, doubling per failure
  up to `SIGNIN_MAX_DELAY_SECONDS`. An attempt that comes sooner gets 429 with `Retry-After`
  (the server holds no thread asleep for it).
The counts live in the rate limiter (Redis when configured, so every API replica shares them) and
are off with `RATE_LIMIT_ENABLED=false`, like the other limits.

Follows OWASP's Authentication Cheat Sheet ("Login Throttling": throttle per account *and* source,
prefer delays to account lockout, which is itself a denial of service).
"""

from __future__ import annotations

import math

from rekindle.api.ratelimit import Limiter
from rekindle.config import Settings
from rekindle.errors import TooManyRequests
from rekindle.metrics import RATE_LIMITED

PAIR_SCOPE = "signin_fail:pair"
ADDRESS_SCOPE = "signin_fail:ip"
_RECORD = 1 << 30  # the limit `hit` is given to record a failure: never refuses


def _refuse(message: str, retry_after: float, by: str) -> TooManyRequests:
    seconds = max(1, math.ceil(retry_after))
    RATE_LIMITED.labels("signin", by).inc()
    return TooManyRequests(
        f"{message} Retry in {seconds} s.",
        headers={"Retry-After": str(seconds)},
        extra={"retry_after": seconds},
    )


def delay_after(settings: Settings, failures: int) -> float:
    """Seconds an address must wait after its last failure, having failed `failures` times in the
    window: 0 up to `SIGNIN_DELAY_AFTER_FAILURES`, then 1, 2, 4, ... up to the maximum."""
    over = failures - settings.signin_delay_after_failures
    if over < 0 or settings.signin_max_delay_seconds <= 0:
        return 0.0
    return float(min(settings.signin_max_delay_seconds, 2.0 ** min(over, 30)))


def before_attempt(limiter: Limiter, settings: Settings, email: str, address: str) -> None:
    """Refuse the attempt (TooManyRequests, 429 `rate_limited` with `Retry-After`) when the
    failures recorded for (email, address) or for the address are spent, or the address's delay
    has not passed. Records nothing."""
    if not settings.rate_limit_enabled:
        return
    window = settings.rate_limit_window_seconds
    per_pair = settings.rate_limit_signin_per_minute
    per_address = per_pair * settings.rate_limit_per_ip_multiplier
    pair = limiter.peek(PAIR_SCOPE, f"{address}|{email}", window)
    if pair.count >= per_pair:
        raise _refuse(
            f"Too many failed sign-ins to this account from your network address: at most "
            f"{per_pair} per {window} s.",
            window - pair.oldest_age,
            "user",
        )
    from_address = limiter.peek(ADDRESS_SCOPE, address, window)
    if from_address.count >= per_address:
        raise _refuse(
            f"Too many failed sign-ins from your network address: at most {per_address} per "
            f"{window} s.",
            window - from_address.oldest_age,
            "ip",
        )
    wait = delay_after(settings, from_address.count) - from_address.newest_age
    if wait > 0:
        raise _refuse("Several sign-ins from your network address failed; slow down.", wait, "ip")


def record_failure(limiter: Limiter, settings: Settings, email: str, address: str) -> None:
    """Count one failed sign-in for (email, address) and for the address."""
    if not settings.rate_limit_enabled:
        return
    window = settings.rate_limit_window_seconds
    limiter.hit(PAIR_SCOPE, f"{address}|{email}", _RECORD, window)
    limiter.hit(ADDRESS_SCOPE, address, _RECORD, window)
