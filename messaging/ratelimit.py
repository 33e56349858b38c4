"""Per-channel sending rates shared by every worker (a token bucket in Redis), and 429 back-off.

``acquire(channel, count=n)`` reserves ``n`` sends (a batch): it returns at once when the bucket has a token, sleeps
until the reserved slot when the wait is short, or answers how long to wait when it is too long
(the dispatcher then puts the delivery back on the schedule instead of holding a worker).
The bucket holds at most one second's worth of tokens (``rate``) so bursts stay small.

``penalize(channel, seconds)`` is called when a provider answers 429 / Twilio 20429: every
worker pauses that channel for a while (with jitter), so the whole fleet backs off together.

Shared state lives in Redis (``settings.RATE_LIMIT_REDIS_URL``) in one Lua script per call, so
reserving is atomic across workers. Without Redis (or when it is unreachable) each process
limits itself — correct for a single worker, a fair approximation otherwise.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from messaging.channels.registry import spec_for

logger = logging.getLogger(__name__)

KEY_PREFIX = "pimsy:rate:"
MAX_SLEEP_SECONDS = 2.0

# KEYS[1] bucket hash, KEYS[2] pause-until key; ARGV rate/s, burst, max wait ms, count.
# Returns the wait in ms for a reserved slot (>= 0), or -(wait ms) when nothing was reserved.
_RESERVE_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local count = tonumber(ARGV[4])
local paused_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused_until > now then
  return -(paused_until - now)
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
local wait = 0
if tokens < count then
  wait = math.ceil((count - tokens) / rate)
end
if wait > max_wait then
  return -wait
end
tokens = tokens - count
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 60000)
return wait
"""


@dataclass(frozen=True)
class Reservation:
    """``ok``: send now (after ``waited`` seconds of sleep); otherwise retry in ``retry_in`` seconds."""

    ok: bool
    waited: float = 0.0
    retry_in: float = 0.0


def rate_for(channel: str) -> float:
    """Sends per second on ``channel``: ``RATE_LIMITS_PER_SECOND`` (the environment), else its spec's default."""
    try:
        default = spec_for(channel).rate_per_second
    except LookupError:
        default = 0.0
    rate = float(settings.RATE_LIMITS_PER_SECOND.get(channel, default) or 0)
    return rate if rate > 0 and math.isfinite(rate) else 0.0


def acquire(channel: str, *, count: int = 1, max_sleep: float = MAX_SLEEP_SECONDS) -> Reservation:
    """Reserve ``count`` sends on ``channel``; sleeps up to ``max_sleep`` seconds for the slot."""
    rate = rate_for(channel)
    if rate <= 0:
        return Reservation(ok=True)
    wait_ms = _limiter().reserve(channel, rate, max_wait_ms=int(max_sleep * 1000), count=count)
    if wait_ms < 0:
        return Reservation(ok=False, retry_in=max(0.05, -wait_ms / 1000))
    if wait_ms:
        time.sleep(wait_ms / 1000)
    return Reservation(ok=True, waited=wait_ms / 1000)


def penalize(channel: str, seconds: float) -> float:
    """Pause ``channel`` for every worker for about ``seconds`` (with ±25 % jitter); returns the pause."""
    pause = with_jitter(seconds)
    _limiter().pause(channel, pause)
    return pause


def backoff(failures: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None) -> float:
    """Exponential back-off with full jitter for the ``failures``-th consecutive transient failure."""
    ceiling = min(cap, base * (2 ** max(0, failures - 1)))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def with_jitter(seconds: float, spread: float = 0.25) -> float:
    return max(0.0, seconds * random.uniform(1 - spread, 1 + spread))


class _LocalLimiter:
    """The same bucket for one process (no Redis)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._paused: dict[str, float] = {}

    def reserve(self, channel: str, rate: float, *, max_wait_ms: int, count: int = 1) -> int:
        with self._lock:
            now = time.monotonic()
            paused = self._paused.get(channel, 0.0)
            if paused > now:
                return -math.ceil((paused - now) * 1000)
            burst = max(1.0, rate)
            tokens, ts = self._buckets.get(channel, (burst, now))
            tokens = min(burst, tokens + (now - ts) * rate)
            wait_ms = math.ceil((count - tokens) / rate * 1000) if tokens < count else 0
            if wait_ms > max_wait_ms:
                return -wait_ms
            self._buckets[channel] = (tokens - count, now)
            return wait_ms

    def pause(self, channel: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused[channel] = max(self._paused.get(channel, 0.0), until)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._paused.clear()


class _RedisLimiter:
    """The bucket in Redis; falls back to the process's own bucket while Redis is unreachable."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_RESERVE_LUA)
        self._fallback = _LocalLimiter()

    def reserve(self, channel: str, rate: float, *, max_wait_ms: int, count: int = 1) -> int:
        import redis

        try:
            keys = [f"{KEY_PREFIX}{channel}", f"{KEY_PREFIX}{channel}:paused"]
            return int(self._script(keys=keys, args=[rate, max(1.0, rate), max_wait_ms, count]))
        except redis.RedisError:
            logger.warning("rate limiter: Redis unavailable, limiting %s per process", channel)
            return self._fallback.reserve(channel, rate, max_wait_ms=max_wait_ms, count=count)

    def pause(self, channel: str, seconds: float) -> None:
        import redis

        until_ms = int(self._server_ms() + seconds * 1000)
        try:
            key = f"{KEY_PREFIX}{channel}:paused"
            current = int(self._client.get(key) or 0)
            if until_ms > current:
                self._client.set(key, until_ms, px=max(1, int(seconds * 1000)))
        except redis.RedisError:
            self._fallback.pause(channel, seconds)

    def _server_ms(self) -> float:
        import redis

        try:
            seconds, micros = self._client.time()
            return seconds * 1000 + micros / 1000
        except redis.RedisError:
            return time.time() * 1000

    def reset(self) -> None:
        import redis

        try:
            keys = list(self._client.scan_iter(f"{KEY_PREFIX}*"))
            if keys:
                self._client.delete(*keys)
        except redis.RedisError:
            pass
        self._fallback.reset()


@cache
def _limiter_for(url: str) -> _LocalLimiter | _RedisLimiter:
    return _RedisLimiter(url) if url else _LocalLimiter()


def _limiter() -> _LocalLimiter | _RedisLimiter:
    return _limiter_for(settings.RATE_LIMIT_REDIS_URL or "")


def reset() -> None:
    """Forget every bucket and pause (tests)."""
    _limiter().reset()
