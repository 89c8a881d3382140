"""
The Redis cache on a Redis that does not answer (frozen: SIGSTOP, a lost network):
each operation gives up after the socket timeout, and after one failure the process
asks Redis nothing for a moment, so that a request makes one wait, not one per
cache call. Against a TCP server that accepts and never answers.
"""

import threading
import time
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import caches

from foundation import cache as redis_cache
from foundation import locks
from testing.sockets import raw_server


@pytest.fixture
def frozen_redis(settings, monkeypatch):
    """The cache on a Redis that accepts connections and never answers; the list
    of the commands it received."""
    received = []
    gate = threading.Event()

    def silent(sock):
        received.append(sock.recv(65536))
        gate.wait(30)

    monkeypatch.setattr(redis_cache, "breaker", redis_cache.Breaker(60))
    monkeypatch.setattr(locks, "breaker", redis_cache.breaker)
    with raw_server(silent) as url:
        address = urlsplit(url)
        settings.CACHES = {"default": {
            "BACKEND": "foundation.cache.RedisCache",
            "LOCATION": f"redis://{address.hostname}:{address.port}/0",
            "OPTIONS": {"socket_timeout": 0.3, "socket_connect_timeout": 0.3},
        }}
        yield received
        gate.set()


def test_after_one_timeout_the_cache_fails_at_once_with_the_reason(frozen_redis):
    cache = caches["default"]
    with pytest.raises(redis.TimeoutError):
        cache.get("a")
    assert len(frozen_redis) == 1

    with pytest.raises(redis_cache.RedisDown, match="TimeoutError"):
        cache.get("b")
    with pytest.raises(redis_cache.RedisDown):
        cache.set("c", 1)
    assert len(frozen_redis) == 1, "Redis was asked again while taken as down"


def test_locks_go_on_without_asking_a_redis_that_just_failed(frozen_redis):
    with pytest.raises(redis.TimeoutError):
        caches["default"].get("a")
    held = locks.lock("x", 10)
    assert locks.try_acquire(held)  # running without a lock, as on a Redis down
    locks.release(held)
    assert len(frozen_redis) == 1


def test_redis_is_asked_again_after_the_pause(monkeypatch):
    breaker = redis_cache.Breaker(0.2)
    calls = []

    def fails():
        calls.append(1)
        raise redis.ConnectionError("refused")

    with pytest.raises(redis.ConnectionError):
        breaker.guard(fails)
    with pytest.raises(redis_cache.RedisDown):
        breaker.guard(fails)
    time.sleep(0.3)
    assert breaker.guard(lambda: "back") == "back"
    assert len(calls) == 1
