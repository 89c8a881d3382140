"""
Django's Redis cache, for a Redis that may be down or frozen.

Every client has socket and connect timeouts (`REDIS_SOCKET_TIMEOUT_SECONDS`, in
`CACHES`), so one operation on a Redis that does not answer fails after about a
second. A request makes several (the cached result, the claim of a run, the lock,
the result stored), and would wait a second for each: so after a connection error
or a timeout, this process takes Redis as down for `DOWN_SECONDS`, and every
cache and lock operation meanwhile fails at once, with the reason, as if Redis had
refused it. Callers already treat a failing cache as no cache (the runner runs
the check here, the heartbeat reports it): a request on a sick Redis degrades
within about one timeout. After `DOWN_SECONDS`, the next operation tries Redis
again.
"""

import threading
import time

import redis
from django.core.cache.backends import redis as django_redis

# How long a process leaves Redis alone after it failed to answer.
DOWN_SECONDS = 2.0


class RedisDown(redis.ConnectionError):
    """Redis failed to answer a moment ago: not asked again yet."""


class Breaker:
    """Remembers that Redis failed, for `seconds`, in this process."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._until = 0.0
        self._reason = ""
        self._guard = threading.Lock()

    @property
    def down(self) -> bool:
        """Whether Redis is taken as down in this process now."""
        return time.monotonic() < self._until

    def check(self) -> None:
        """Raise RedisDown while Redis is taken as down."""
        if self.down:
            raise RedisDown(f"Redis failed {self._reason}; not asked again for a moment")

    def failed(self, exc: Exception) -> None:
        with self._guard:
            self._until = time.monotonic() + self.seconds
            self._reason = f"({type(exc).__name__}: {exc})"

    def guard(self, call, *args, **kwargs):
        """`call(*args, **kwargs)`, refused at once while Redis is down."""
        self.check()
        try:
            return call(*args, **kwargs)
        except RedisDown:
            raise
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.failed(exc)
            raise


breaker = Breaker(DOWN_SECONDS)


class RedisCache(django_redis.RedisCache):
    """Django's RedisCache, each operation through the process's `breaker`."""


def _guarded(name: str):
    method = getattr(django_redis.RedisCache, name)

    def guarded(self, *args, **kwargs):
        return breaker.guard(method, self, *args, **kwargs)

    guarded.__name__ = name
    guarded.__doc__ = method.__doc__
    return guarded


for _name in ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr",
              "set_many", "delete_many", "clear"):
    setattr(RedisCache, _name, _guarded(_name))
