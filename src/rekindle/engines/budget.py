"""Provider budgets: ceilings per engine shared by every worker (`ENGINE_BUDGETS`).

A budget caps, for one engine, the calls *started* per `BUDGET_WINDOW_SECONDS` (a "minute",
`requests_per_minute`) and the calls *running* at once (`max_in_flight`), across the whole fleet.
SiliconFlow starts accounts at a few images per minute; a fleet of 32-thread workers would
otherwise send hundreds. One restoration is one engine call (for SiliconFlow, one generation
request; the result download is not counted, it goes to the provider's CDN).

The worker asks `Budgets.admit(engine)` *before* it marks an attempt `processing`. When the budget
is spent the attempt stays `pending` and its task is sent again with a countdown (`wait_seconds`):
work beyond the ceiling waits in the queue, it does not fail. `mark_waiting` leaves a marker the
stuck-attempt sweep honours, so an attempt that is merely waiting on a budget is not failed after
`PENDING_TIME_LIMIT_SECONDS`; `BUDGET_MAX_WAIT_SECONDS` bounds the wait instead.

Backends:
- `RedisBudgets` (production): one Lua script decides and records atomically, on Redis's clock.
  `rekindle:budget:{engine}:rate` is a sorted set of call stamps (sliding window: at most N in any
  window); `rekindle:budget:{engine}:inflight` a sorted set of leases scored by their expiry, so a
  worker killed mid-call frees its slot after the lease (`TASK_TIME_LIMIT_SECONDS` + 60 s) instead
  of leaking it forever.
- `MemoryBudgets` (embedded queue, one worker process): the same rules in this process.

Calls are admitted with `MARGIN_SECONDS` of slack on the window: the provider sees a request a
moment after it was admitted (preprocessing, upload), and that moment varies from call to call.
If Redis cannot be reached, calls are admitted (logged): the queue on the same Redis is down too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rekindle.config import EngineBudget, Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "rekindle:budget"
MARGIN_SECONDS = 1.0
"""Added to the window when counting started calls, seconds (see the module docstring)."""
IN_FLIGHT_RETRY_SECONDS = 2.0
"""How long an attempt waits before asking again when every in-flight slot is taken, seconds."""
WAITING_GRACE_SECONDS = 120.0
"""A waiting marker outlives its countdown by this much, seconds (the sweep's view of "waiting")."""


@dataclass
class Admission:
    """The answer of `Budgets.admit`.

    allowed: the call may start now (call `release()` when it ends).
    wait_seconds: when refused, how long to wait before asking again, seconds.
    reason: when refused, `rate` (calls per window spent) or `in_flight` (all slots taken).
    """

    allowed: bool
    wait_seconds: float = 0.0
    reason: str = ""
    _release: Callable[[], None] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give back the in-flight slot (the started call still counts in its window). Idempotent."""
        release, self._release = self._release, None
        if release is not None:
            release()


DEFAULT_BUDGETS: dict[str, EngineBudget] = {
    "siliconflow": EngineBudget(requests_per_minute=2, max_in_flight=2),
}
"""Budgets that apply unless `ENGINE_BUDGETS` names the engine. SiliconFlow documents image
models' limits per account and model as IPM 2 (images per minute) and IPD 400
(https://docs.siliconflow.com/en/userguide/rate-limits/rate-limit-and-upgradation, section 1.4):
a burst beyond two a minute waits in the queue instead of failing with 429 "Service busy". An
account with higher limits raises them with `ENGINE_BUDGETS`; `{"siliconflow": {}}` removes it."""


class Budgets:
    """Interface of the budget backends."""

    def __init__(self, settings: Settings) -> None:
        self.budgets: dict[str, EngineBudget] = {**DEFAULT_BUDGETS, **settings.engine_budgets}
        self.window = float(settings.budget_window_seconds)
        self.lease = float(settings.task_time_limit_seconds + 60)

    def budget(self, engine: str) -> EngineBudget | None:
        """The budget configured for `engine` (a restoration engine name, or
        `animation:{name}` for an animation engine), or None."""
        found = self.budgets.get(engine)
        if found is None or (found.requests_per_minute is None and found.max_in_flight is None):
            return None
        return found

    def admit(self, engine: str) -> Admission:
        """Admit one call of `engine` now, or say how long to wait. Engines without a budget are
        always admitted (nothing is recorded)."""
        budget = self.budget(engine)
        if budget is None:
            return Admission(True)
        return self._admit(engine, budget)

    def _admit(self, engine: str, budget: EngineBudget) -> Admission:
        raise NotImplementedError

    def mark_waiting(self, attempt_id: object, seconds: float) -> None:
        """Note that `attempt_id` waits on a budget for about `seconds` more (for the sweep)."""
        raise NotImplementedError

    def clear_waiting(self, attempt_id: object) -> None:
        raise NotImplementedError

    def waiting(self, attempt_ids: Iterable[object]) -> set[str]:
        """Which of `attempt_ids` (as strings) are waiting on a budget right now."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all counts and leases (tests)."""

    def close(self) -> None:
        """Release connections."""


class MemoryBudgets(Budgets):
    """Budgets of one process (the embedded queue runs one worker)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(settings)
        self._clock = clock
        self._lock = threading.Lock()
        self._starts: dict[str, deque[float]] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._waiting: dict[str, float] = {}

    def _admit(self, engine: str, budget: EngineBudget) -> Admission:
        now = self._clock()
        with self._lock:
            leases = self._leases.setdefault(engine, {})
            for token in [t for t, expiry in leases.items() if expiry <= now]:
                del leases[token]
            if budget.max_in_flight is not None and len(leases) >= budget.max_in_flight:
                return Admission(False, IN_FLIGHT_RETRY_SECONDS, "in_flight")
            starts = self._starts.setdefault(engine, deque())
            span = self.window + MARGIN_SECONDS
            while starts and starts[0] <= now - span:
                starts.popleft()
            if budget.requests_per_minute is not None:
                if len(starts) >= budget.requests_per_minute:
                    return Admission(False, max(0.05, starts[0] + span - now), "rate")
                starts.append(now)
            if budget.max_in_flight is None:
                return Admission(True)
            token = uuid.uuid4().hex
            leases[token] = now + self.lease

        def release() -> None:
            with self._lock:
                leases.pop(token, None)

        return Admission(True, _release=release)

    def mark_waiting(self, attempt_id: object, seconds: float) -> None:
        with self._lock:
            self._waiting[str(attempt_id)] = self._clock() + seconds + WAITING_GRACE_SECONDS

    def clear_waiting(self, attempt_id: object) -> None:
        with self._lock:
            self._waiting.pop(str(attempt_id), None)

    def waiting(self, attempt_ids: Iterable[object]) -> set[str]:
        now = self._clock()
        with self._lock:
            for key in [k for k, until in self._waiting.items() if until <= now]:
                del self._waiting[key]
            return {str(a) for a in attempt_ids if str(a) in self._waiting}

    def reset(self) -> None:
        with self._lock:
            self._starts.clear()
            self._leases.clear()
            self._waiting.clear()


# KEYS: rate set, in-flight set. ARGV: per_window (0: none), span (s), max_in_flight (0: none),
# lease (s), token. Returns {1, 0, ''} when admitted, else {0, wait_microseconds, reason}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per_window = tonumber(ARGV[1])
local span = tonumber(ARGV[2]) * 1000000
local max_in_flight = tonumber(ARGV[3])
local lease = tonumber(ARGV[4]) * 1000000
if max_in_flight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max_in_flight then
    return {0, -1, 'in_flight'}
  end
end
if per_window > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
  if redis.call('ZCARD', KEYS[1]) >= per_window then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + span - now, 'rate'}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000) + 1000)
end
if max_in_flight > 0 then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], math.ceil(lease / 1000) + 1000)
end
return {1, 0, ''}
"""


class RedisBudgets(Budgets):
    """Budgets shared by every worker on one Redis."""

    def __init__(self, settings: Settings, url: str) -> None:
        import redis

        super().__init__(settings)
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script = self.client.register_script(_ADMIT)

    def _admit(self, engine: str, budget: EngineBudget) -> Admission:
        import redis

        token = uuid.uuid4().hex
        rate_key = f"{KEY_PREFIX}:{engine}:rate"
        flight_key = f"{KEY_PREFIX}:{engine}:inflight"
        try:
            allowed, wait_us, reason = self._script(
                keys=[rate_key, flight_key],
                args=[
                    budget.requests_per_minute or 0,
                    self.window + MARGIN_SECONDS,
                    budget.max_in_flight or 0,
                    self.lease,
                    token,
                ],
            )
        except redis.RedisError as exc:
            log.warning("budget store unavailable, %s call admitted: %s", engine, exc)
            return Admission(True)
        if not allowed:
            reason = reason.decode() if isinstance(reason, bytes) else str(reason)
            wait = IN_FLIGHT_RETRY_SECONDS if int(wait_us) < 0 else max(0.05, int(wait_us) / 1e6)
            return Admission(False, wait, reason)
        if budget.max_in_flight is None:
            return Admission(True)

        def release() -> None:
            try:
                self.client.zrem(flight_key, token)
            except redis.RedisError as exc:  # the lease expires by itself
                log.warning("could not release %s in-flight slot: %s", engine, exc)

        return Admission(True, _release=release)

    def mark_waiting(self, attempt_id: object, seconds: float) -> None:
        ttl_ms = math.ceil((seconds + WAITING_GRACE_SECONDS) * 1000)
        try:
            self.client.set(f"{KEY_PREFIX}:waiting:{attempt_id}", "1", px=ttl_ms)
        except Exception as exc:
            log.warning("could not mark attempt %s waiting: %s", attempt_id, exc)

    def clear_waiting(self, attempt_id: object) -> None:
        try:
            self.client.delete(f"{KEY_PREFIX}:waiting:{attempt_id}")
        except Exception as exc:
            log.warning("could not clear waiting marker of %s: %s", attempt_id, exc)

    def waiting(self, attempt_ids: Iterable[object]) -> set[str]:
        ids = [str(a) for a in attempt_ids]
        if not ids:
            return set()
        try:
            found = self.client.mget([f"{KEY_PREFIX}:waiting:{a}" for a in ids])
        except Exception as exc:
            log.warning("could not read waiting markers: %s", exc)
            return set()
        return {a for a, value in zip(ids, found, strict=True) if value is not None}

    def reset(self) -> None:
        for key in self.client.scan_iter(f"{KEY_PREFIX}:*"):
            self.client.delete(key)

    def close(self) -> None:
        self.client.close()


def make_budgets(settings: Settings) -> Budgets:
    """Redis-backed when `REDIS_URL` is set, else in this process."""
    if settings.redis_url:
        return RedisBudgets(settings, settings.redis_url)
    return MemoryBudgets(settings)
