"""
A lock per cache key, held in Django's cache, so that a check never runs twice at
once: across threads with the local cache, across processes and machines when the
cache is Redis.

The lock expires by itself after `REDIS_LOCK_TIMEOUT_SECONDS`, so a process that
dies while holding it blocks nobody for longer than that.
"""

import logging
import uuid

from django.core.cache import cache

logger = logging.getLogger(__name__)


class CacheLock:
    def __init__(self, key: str, timeout: float):
        self.key = f"lock:{key}"
        self.timeout = timeout
        self.token = uuid.uuid4().hex

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits. True when the cache is
        down: running without a lock beats not answering."""
        try:
            return cache.add(self.key, self.token, timeout=max(1, round(self.timeout)))
        except Exception as exc:
            logger.warning("Lock unavailable (%s); running without it", type(exc).__name__)
            return True

    def release(self) -> None:
        # Only our own token is deleted: after an expiry, someone else may hold it.
        try:
            if cache.get(self.key) == self.token:
                cache.delete(self.key)
        except Exception:
            pass  # it expires by itself
