"""
Celery beat's scheduler: django-celery-beat's database schedules, one leader.

Schedules live in the database (edited in Django admin, picked up without a
restart). If two beat processes are started by mistake, only the one holding the
leader lock (`foundation.locks`, in Redis) ticks, renewing it at each tick; the
other waits, and takes over within `LEADER_LOCK_SECONDS` if the leader dies.
Without Redis (embedded mode) there is one process, hence one leader. Tasks sent
in embedded mode go to the in-process pool, so a slow check never holds up the
clock.
"""

import datetime
import logging
import os
import uuid

import redis
from django_celery_beat.schedulers import DatabaseScheduler

from foundation import locks

logger = logging.getLogger(__name__)

LEADER_LOCK_SECONDS = 10


class LeaderScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.ident = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # for the logs
        self.leader_lock = locks.lock("beat-leader", LEADER_LOCK_SECONDS)
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
        try:
            held = locks.hold(self.leader_lock)
        except redis.RedisError as exc:
            logger.warning("Beat cannot reach Redis for its leader lock: %s", exc)
            held = False
        if held != self.is_leader:
            self.is_leader = held
            logger.info("Beat %s: %s", self.ident, "leading" if held else "standing by")
            if held:
                self._reread_schedule()
        return self.is_leader

    def _reread_schedule(self) -> None:
        """A new leader starts from the database, where the previous leader wrote
        when each task last ran (CELERY_BEAT_SYNC_EVERY = 1), not from what this
        process read when it started: otherwise it would fire them again."""
        self._last_full_sync = datetime.datetime(1970, 1, 1)
