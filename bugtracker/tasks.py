"""
Celery tasks of the bug tracker.

`sync_bugs` runs every BUGTRACKER_TTL seconds (at least 60) from beat
(`CELERY_BEAT_SCHEDULE` in settings) and always asks Bugzilla; pages queue it with
`force=False` when the last sync is stale (see `bugtracker.sync`). It does nothing
while BUGTRACKER_URL is empty, and never raises for a Bugzilla problem.
"""

from celery import shared_task

from bugtracker import sync


@shared_task(ignore_result=True)
def sync_bugs(force: bool = True) -> dict | None:
    return sync.sync(force=force)
