"""The shared per-channel rate (token bucket in Redis, per-process without it) and 429 back-off."""

from __future__ import annotations

import pytest

from messaging import ratelimit
from tests.fixtures import need

REDIS_URL = "redis://127.0.0.1:6379/4"


@pytest.fixture
def two_per_second(settings):
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "sms": 2.0}
    ratelimit.reset()
    yield
    ratelimit.reset()


def _redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def shared_redis(settings, two_per_second):
    need(_redis_available(), f"Redis at {REDIS_URL} for the shared rate limit")
    settings.RATE_LIMIT_REDIS_URL = REDIS_URL
    ratelimit.reset()
    yield
    ratelimit.reset()


def test_no_rate_means_no_limit(settings):
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "email": 0.0}
    assert all(ratelimit.acquire("email", count=1000, max_sleep=0).ok for _ in range(3))


def test_bucket_holds_one_second_and_then_asks_to_wait(settings, two_per_second):
    settings.RATE_LIMIT_REDIS_URL = ""
    assert ratelimit.acquire("sms", count=2, max_sleep=0).ok
    refused = ratelimit.acquire("sms", max_sleep=0)
    assert not refused.ok and 0.3 <= refused.retry_in <= 0.6
    waited = ratelimit.acquire("sms", max_sleep=1.0)  # sleeps for its slot instead
    assert waited.ok and 0.3 <= waited.waited <= 0.6


def test_a_429_pauses_the_channel(settings, two_per_second):
    settings.RATE_LIMIT_REDIS_URL = ""
    pause = ratelimit.penalize("sms", 2.0)
    assert 1.5 <= pause <= 2.5
    refused = ratelimit.acquire("sms", max_sleep=0)
    assert not refused.ok and refused.retry_in > 1.0
    assert ratelimit.acquire("voice", max_sleep=0).ok  # other channels are not paused


def test_workers_share_the_bucket_through_redis(shared_redis):
    from messaging.ratelimit import _RedisLimiter

    worker_a, worker_b = _RedisLimiter(REDIS_URL), _RedisLimiter(REDIS_URL)
    assert worker_a.reserve("sms", 2.0, max_wait_ms=0, count=2) == 0
    assert worker_b.reserve("sms", 2.0, max_wait_ms=0) < 0  # the other worker took the second's tokens
    worker_b.pause("sms", 5.0)
    assert worker_a.reserve("sms", 2.0, max_wait_ms=10_000) <= -4000  # the pause is shared too


def test_unreachable_redis_falls_back_to_a_per_process_bucket(settings, two_per_second, caplog):
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:9/0"
    assert ratelimit.acquire("sms", count=2, max_sleep=0).ok
    assert not ratelimit.acquire("sms", max_sleep=0).ok
    assert "Redis unavailable" in caplog.text


def test_backoff_grows_with_jitter_and_honours_retry_after():
    first = [ratelimit.backoff(1) for _ in range(50)]
    fifth = [ratelimit.backoff(5) for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in first) and all(8.0 <= d <= 16.0 for d in fifth)
    assert len(set(first)) > 1  # jitter
    assert ratelimit.backoff(20) <= 300.0
    assert ratelimit.backoff(1, retry_after=30) == 30
