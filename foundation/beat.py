"""
Celery beat's scheduler: django-celery-beat's database schedules, one leader.

Schedules live in the database (edited in Django admin, picked up without a
restart). If two beat processes are started by mistake, only the one holding the
Redis leader lock ticks; the other waits, and takes over within
`LEADER_LOCK_SECONDS` if the leader dies. Without Redis (embedded mode) there is
one process, hence one leader. Tasks sent in embedded mode go to the in-process
pool, so a slow check never holds up the clock.
"""

import datetime
import logging
import os
import uuid

import redis
from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

LEADER_LOCK_SECONDS = 10
# Renew the lock only if we still hold it; expire it otherwise untouched.
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class LeaderScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.leader_token = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.leader_key = f"{settings.REDIS_KEY_PREFIX}:beat-leader"
        self.redis = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
        self.is_leader = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self._lead():
            return 1.0  # seconds before trying again
        return super().tick(*args, **kwargs)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if not self.app.conf.task_always_eager:
            return super().apply_async(entry, producer, advance, **kwargs)
        # Embedded mode: record the run like Celery does, then hand it to the pool.
        from foundation.background import enqueue

        entry = self.reserve(entry) if advance else entry
        return enqueue(self.app.tasks[entry.task], *entry.args)

    def _lead(self) -> bool:
        """Take or keep the leader lock; False while another beat holds it."""
        if self.redis is None:
            return True
        ttl = LEADER_LOCK_SECONDS * 1000
        try:
            held = self.redis.set(self.leader_key, self.leader_token, nx=True, px=ttl)
            held = held or self.redis.eval(RENEW, 1, self.leader_key, self.leader_token, ttl)
        except redis.RedisError as exc:
            logger.warning("Beat cannot reach Redis for its leader lock: %s", exc)
            held = False
        if bool(held) != self.is_leader:
            self.is_leader = bool(held)
            logger.info("Beat %s: %s", self.leader_token, "leading" if held else "standing by")
            if held:
                self._reread_schedule()
        return self.is_leader

    def _reread_schedule(self) -> None:
        """A new leader starts from the database, where the previous leader wrote
        when each task last ran (CELERY_BEAT_SYNC_EVERY = 1), not from what this
        process read when it started: otherwise it would fire them again."""
        self._last_full_sync = datetime.datetime(1970, 1, 1)
