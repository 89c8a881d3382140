"""
Celery tasks of the bug tracker.

`sync_bugs` runs every BUGTRACKER_TTL seconds (at least 60) from beat
(`CELERY_BEAT_SCHEDULE` in settings) and always asks Bugzilla; pages queue it with
`force=False` through `request_sync_if_stale()` when the last sync is stale (see
`bugtracker.sync`). It does nothing while BUGTRACKER_URL is empty, and never raises
for a Bugzilla problem.
"""

import logging

from celery import shared_task

from bugtracker import sync
from foundation.background import enqueue

logger = logging.getLogger("bugtracker.sync")


@shared_task(ignore_result=True)
def sync_bugs(force: bool = True) -> dict | None:
    return sync.sync(force=force)


def request_sync_if_stale() -> bool:
    """Queue a sync if the last one is stale; never waits for Bugzilla. True if queued."""
    if not sync.claim_request():
        return False
    try:
        enqueue(sync_bugs, False)
    except Exception as exc:  # no broker: the page is more important
        logger.warning("Cannot queue a Bugzilla sync: %s", type(exc).__name__)
        return False
    return True
